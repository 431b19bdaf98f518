terraform {
  required_providers {
    tumblebug = {
      source = "tumblebug/tumblebug"
    }
  }
}

provider "tumblebug" {
  # Where the provider keeps what exists; created if missing. Default: .tumblebug/store.db
  store = ".tumblebug/store.db"
}
