//! Structured reference strings (KZG parameters in halo2's format).
//!
//! A locally generated SRS is **insecure**: whoever ran the generation could know the secret
//! and forge proofs. Use it only for testing; for anything that matters, load an SRS converted
//! from a public powers-of-tau ceremony. An SRS for `2^K` points serves every circuit with
//! `k <= K` (it is downsized in memory).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use halo2_proofs::halo2curves::bn256::Bn256;
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use rand_chacha::rand_core::SeedableRng;

use crate::error::ProverError;

mod lagrange;
mod powers;

/// KZG parameters over BN254 in halo2's format.
pub type Srs = ParamsKZG<Bn256>;

/// The warning every locally generated SRS comes with.
pub const INSECURE_SRS_WARNING: &str = "WARNING: this SRS was generated locally; whoever generated it can forge proofs. \
It is for testing only. For production, load an SRS converted from a public powers-of-tau ceremony with --srs.";

/// Generates an SRS of `2^k` points from a seed (deterministic, insecure).
pub fn generate(k: u32, seed: u64) -> ParamsKZG<Bn256> {
    powers::setup(k, rand_chacha::ChaCha20Rng::seed_from_u64(seed))
}

/// Generates an SRS of `2^k` points from operating-system randomness (insecure all the same:
/// this machine saw the secret).
pub fn generate_random(k: u32) -> ParamsKZG<Bn256> {
    powers::setup(k, rand::rngs::OsRng)
}

/// The seed of a locally generated SRS, held in memory by the run that generated it and never
/// written: every size generated from it shares one secret, so the run cuts its SRS to a
/// smaller size by computing that size's Lagrange points from the secret ([`LocalSeed::cut`],
/// seconds) instead of by an FFT over G1 ([`for_k`], minutes at 2^19 on two cores).
#[derive(Clone)]
pub struct LocalSeed([u8; 32]);

impl LocalSeed {
    /// A seed from operating-system randomness.
    pub fn random() -> Self {
        use rand::RngCore;
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Self(seed)
    }

    /// The SRS of `2^k` points for this seed's secret.
    pub fn generate(&self, k: u32) -> ParamsKZG<Bn256> {
        powers::setup(k, rand_chacha::ChaCha20Rng::from_seed(self.0))
    }

    /// `full` cut to `2^k` points, the same parameters as [`for_k`] gives, when `full` was
    /// generated from this seed; `None` when it was not (or is smaller).
    pub fn cut(&self, full: &ParamsKZG<Bn256>, k: u32) -> Option<ParamsKZG<Bn256>> {
        powers::cut(k, rand_chacha::ChaCha20Rng::from_seed(self.0), full)
    }
}

impl std::fmt::Debug for LocalSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSeed(..)")
    }
}

/// The size of an SRS.
pub fn srs_k(params: &ParamsKZG<Bn256>) -> u32 {
    params.k()
}

/// Reads an SRS file in halo2's format, checking every point.
pub fn load(path: &Path) -> Result<ParamsKZG<Bn256>, ProverError> {
    let file = File::open(path).map_err(|source| ProverError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ParamsKZG::<Bn256>::read_custom(&mut reader, SerdeFormat::RawBytes)
    }));
    match read {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(ProverError::Srs {
            path: path.display().to_string(),
            reason: format!("not a valid KZG parameter file: {e}"),
        }),
        Err(_) => Err(ProverError::Srs {
            path: path.display().to_string(),
            reason: "not a valid KZG parameter file".into(),
        }),
    }
}

/// Writes an SRS file in halo2's format.
pub fn save(params: &ParamsKZG<Bn256>, path: &Path) -> Result<(), ProverError> {
    let io = |source| ProverError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("partial");
    {
        let mut w = BufWriter::new(File::create(&tmp).map_err(io)?);
        params
            .write_custom(&mut w, SerdeFormat::RawBytes)
            .map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// The SRS for a circuit of size `2^k`: `params` cut to its first `2^k` powers when larger, the
/// Lagrange points of the smaller domain recomputed by an inverse FFT over G1 (the library's
/// downsizing, about three times faster: see `lagrange`).
pub fn for_k(params: &ParamsKZG<Bn256>, k: u32) -> Result<ParamsKZG<Bn256>, ProverError> {
    if params.k() < k {
        return Err(ProverError::SrsTooSmall {
            needed: k,
            available: params.k(),
        });
    }
    if params.k() == k {
        return Ok(params.clone());
    }
    Ok(lagrange::downsize(params, k))
}

/// A directory of SRS files named `kzg-bn254-<k>.srs`.
#[derive(Clone, Debug)]
pub struct SrsCache {
    dir: PathBuf,
}

impl SrsCache {
    /// The cache in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default cache: `$ZKML_CACHE_DIR`, else `$XDG_CACHE_HOME/zkml`, else `~/.cache/zkml`.
    pub fn default_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("ZKML_CACHE_DIR") {
            return PathBuf::from(d);
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return PathBuf::from(d).join("zkml");
        }
        std::env::var_os("HOME").map_or_else(
            || PathBuf::from(".zkml-cache"),
            |h| PathBuf::from(h).join(".cache").join("zkml"),
        )
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the file for `k`.
    pub fn path(&self, k: u32) -> PathBuf {
        self.dir.join(format!("kzg-bn254-{k}.srs"))
    }

    /// The smallest cached SRS with at least `2^k` points, cut to `k` ([`SrsCache::cut`]).
    pub fn find(&self, k: u32) -> Result<Option<ParamsKZG<Bn256>>, ProverError> {
        for size in k..=28 {
            let p = self.path(size);
            if p.exists() {
                return self.cut(&load(&p)?, k).map(Some);
            }
        }
        Ok(None)
    }

    /// `full` cut to `2^k` points ([`for_k`]), the cut kept in the cache under the full SRS's
    /// identity: a cut recomputes the Lagrange basis, an FFT of `2^k` points of G1 (minutes at
    /// 2^18 on two cores), so it is paid once per SRS and size. A cached cut is used only when
    /// its points are the full SRS's first `2^k` and its G2 points are the full SRS's; one that
    /// cannot be written is recomputed next time.
    pub fn cut(&self, full: &ParamsKZG<Bn256>, k: u32) -> Result<ParamsKZG<Bn256>, ProverError> {
        self.cut_with(full, k, None)
    }

    /// As [`SrsCache::cut`]; a cut not in the cache is computed from `seed` when `full` was
    /// generated from it ([`LocalSeed::cut`]), else by [`for_k`].
    pub fn cut_with(
        &self,
        full: &ParamsKZG<Bn256>,
        k: u32,
        seed: Option<&LocalSeed>,
    ) -> Result<ParamsKZG<Bn256>, ProverError> {
        if full.k() <= k {
            return for_k(full, k);
        }
        let path = self
            .dir
            .join("cuts")
            .join(format!("{}-{k}.srs", identity(full)));
        if let Ok(cached) = load(&path) {
            let n = 1usize << k;
            if cached.k() == k
                && cached.s_g2() == full.s_g2()
                && cached.g2() == full.g2()
                && cached.get_g() == &full.get_g()[..n]
            {
                return Ok(cached);
            }
        }
        let cut = match seed.and_then(|s| s.cut(full, k)) {
            Some(cut) => cut,
            None => for_k(full, k)?,
        };
        // The cut is made; failing to keep it only costs the next run the same time.
        let _ = save(&cut, &path);
        Ok(cut)
    }
}

/// A name for an SRS: a hash of its size, its first two G1 points and its G2 points.
fn identity(p: &ParamsKZG<Bn256>) -> String {
    use halo2_proofs::halo2curves::group::GroupEncoding;
    let mut bytes = p.k().to_be_bytes().to_vec();
    for g in &p.get_g()[..2] {
        bytes.extend_from_slice(g.to_bytes().as_ref());
    }
    bytes.extend_from_slice(p.g2().to_bytes().as_ref());
    bytes.extend_from_slice(p.s_g2().to_bytes().as_ref());
    hex::encode(&crate::keys::keccak(&bytes)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_save_load_and_downsize() {
        let dir = std::env::temp_dir().join(format!("zkml-srs-test-{}", std::process::id()));
        let cache = SrsCache::new(&dir);
        let p = generate(5, 1);
        save(&p, &cache.path(5)).unwrap();
        let q = cache
            .find(4)
            .unwrap()
            .expect("a larger SRS serves a smaller k");
        assert_eq!(q.k(), 4);
        assert_eq!(q.s_g2(), p.s_g2());
        assert!(cache.find(6).unwrap().is_none());
        // The cut is kept: the same points come back from the cache, and a cut of another
        // SRS under the same name is not taken for it.
        let cuts: Vec<_> = std::fs::read_dir(dir.join("cuts"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(cuts.len(), 1, "{cuts:?}");
        let again = cache.cut(&p, 4).unwrap();
        assert_eq!(again.get_g(), q.get_g());
        save(&for_k(&generate(5, 2), 4).unwrap(), &cuts[0]).unwrap();
        let redone = cache.cut(&p, 4).unwrap();
        assert_eq!(redone.get_g(), q.get_g());
        assert_eq!(redone.s_g2(), p.s_g2());
        assert!(matches!(
            for_k(&p, 6),
            Err(ProverError::SrsTooSmall {
                needed: 6,
                available: 5
            })
        ));
        std::fs::write(dir.join("bad.srs"), b"garbage").unwrap();
        assert!(matches!(
            load(&dir.join("bad.srs")),
            Err(ProverError::Srs { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_seed_cuts_its_own_srs_only() {
        let bytes = |p: &ParamsKZG<Bn256>| {
            let mut out = Vec::new();
            p.write_custom(&mut out, SerdeFormat::RawBytes).unwrap();
            out
        };
        let dir = std::env::temp_dir().join(format!("zkml-srs-seed-{}", std::process::id()));
        let cache = SrsCache::new(&dir);
        let seed = LocalSeed::random();
        let full = seed.generate(6);
        let by_fft = bytes(&for_k(&full, 4).unwrap());
        let by_seed = seed.cut(&full, 4).expect("the seed's own SRS");
        assert!(bytes(&by_seed) == by_fft);
        // Kept in the cache like any cut, and found again without the seed.
        assert!(bytes(&cache.cut_with(&full, 4, Some(&seed)).unwrap()) == by_fft);
        assert!(bytes(&cache.cut(&full, 4).unwrap()) == by_fft);
        // Another seed's SRS is cut by the FFT, correctly.
        let other = LocalSeed::random().generate(6);
        assert!(seed.cut(&other, 4).is_none());
        let theirs = cache.cut_with(&other, 3, Some(&seed)).unwrap();
        assert!(bytes(&theirs) == bytes(&for_k(&other, 3).unwrap()));
        assert_eq!(format!("{seed:?}"), "LocalSeed(..)");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
