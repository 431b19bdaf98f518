resource "tumblebug_namespace" "team_a" {
  name        = "team-a"
  description = "Everything team A runs"
}
