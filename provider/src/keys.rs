//! SSH key pairs: generated here, so the private key is born in the provider and only the public
//! key ever reaches a cloud.

use anyhow::Result;
use ssh_key::{rand_core::OsRng, Algorithm, LineEnding, PrivateKey};

/// An OpenSSH key pair.
pub struct KeyPair {
    /// OpenSSH private key (PEM-like `-----BEGIN OPENSSH PRIVATE KEY-----` text). Secret.
    pub private_key: String,
    /// `ssh-ed25519 AAAA... comment` line.
    pub public_key: String,
}

/// A new Ed25519 key pair; `comment` ends the public key line.
pub fn generate(comment: &str) -> Result<KeyPair> {
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)?;
    key.set_comment(comment);
    let private_key = key.to_openssh(LineEnding::LF)?.to_string();
    let public_key = key.public_key().to_openssh()?;
    Ok(KeyPair {
        private_key,
        public_key,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn generates_distinct_parseable_pairs() {
        let a = super::generate("ns/key").unwrap();
        let b = super::generate("ns/key").unwrap();
        assert_ne!(a.private_key, b.private_key);
        assert!(
            a.public_key.starts_with("ssh-ed25519 ") && a.public_key.ends_with(" ns/key"),
            "{}",
            a.public_key
        );
        let parsed = ssh_key::PrivateKey::from_openssh(&a.private_key).unwrap();
        assert_eq!(parsed.public_key().to_openssh().unwrap(), a.public_key);
    }
}
