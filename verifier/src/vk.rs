//! The verifying key: a self-contained description of the circuit (queries, gate polynomials,
//! permutation, lookups), its fixed and permutation commitments, the three SRS points KZG
//! verification needs, and what the public values mean.
//!
//! ```text
//! offset  size  content
//! 0       8     magic "ZKMLVK\0\0"
//! 8       4     format version, little-endian u32 (currently 3)
//! 12      ...   the key, bincode (fixed-width little-endian integers)
//! ```

use ark_bn254::{Fr, G1Affine, G2Affine};
use bincode::Options;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use crate::encoding::{fr_from_be, g1_from_bytes, g2_from_bytes};
use crate::error::KeyError;

/// First bytes of every verifying key file.
pub const VK_MAGIC: &[u8; 8] = b"ZKMLVK\0\0";
/// The format version this build reads and writes.
pub const VK_FORMAT_VERSION: u32 = 3;

/// A 32-byte big-endian word.
pub type Word = [u8; 32];

/// A G1 point, `x || y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct G1Bytes {
    /// x coordinate.
    pub x: Word,
    /// y coordinate.
    pub y: Word,
}

/// A G2 point in the EVM precompile's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct G2Bytes {
    /// `x.c1`.
    pub x1: Word,
    /// `x.c0`.
    pub x0: Word,
    /// `y.c1`.
    pub y1: Word,
    /// `y.c0`.
    pub y0: Word,
}

impl G1Bytes {
    /// From 64 bytes.
    pub fn from_slice(b: &[u8; 64]) -> Self {
        Self {
            x: b[..32].try_into().expect("32"),
            y: b[32..].try_into().expect("32"),
        }
    }

    /// To 64 bytes.
    pub fn to_array(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.x);
        out[32..].copy_from_slice(&self.y);
        out
    }
}

impl G2Bytes {
    /// From 128 bytes.
    pub fn from_slice(b: &[u8; 128]) -> Self {
        let w = |i: usize| b[i * 32..i * 32 + 32].try_into().expect("32");
        Self {
            x1: w(0),
            x0: w(1),
            y1: w(2),
            y0: w(3),
        }
    }

    /// To 128 bytes.
    pub fn to_array(&self) -> [u8; 128] {
        let mut out = [0u8; 128];
        for (i, w) in [self.x1, self.x0, self.y1, self.y0].iter().enumerate() {
            out[i * 32..i * 32 + 32].copy_from_slice(w);
        }
        out
    }
}

/// A query: column index and rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Column index within its kind.
    pub column: u32,
    /// Row rotation.
    pub rotation: i32,
}

/// A column in the permutation argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnRef {
    /// Advice column.
    Advice(u32),
    /// Fixed column.
    Fixed(u32),
    /// Instance column.
    Instance(u32),
}

/// How deeply expressions may nest. zkml's gates nest about 20 levels (a few more with 32
/// lanes); the limit is checked while decoding, so that a crafted key cannot exhaust the
/// stack (recursive decoding, checking or dropping) before it is rejected.
pub const MAX_EXPR_DEPTH: usize = 256;

/// A polynomial expression over query evaluations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Expr {
    /// A constant.
    Constant(Word),
    /// A fixed query (index into `fixed_queries`).
    Fixed(u32),
    /// An advice query.
    Advice(u32),
    /// An instance query.
    Instance(u32),
    /// `-a`.
    Negated(Box<Expr>),
    /// `a + b`.
    Sum(Box<Expr>, Box<Expr>),
    /// `a * b`.
    Product(Box<Expr>, Box<Expr>),
    /// `a * constant`.
    Scaled(Box<Expr>, Word),
    /// A challenge drawn from the transcript (index into the key's challenges).
    Challenge(u32),
}

/// [`Expr`] as it is encoded: decoding goes through it, one level at a time, under
/// [`MAX_EXPR_DEPTH`].
#[derive(Deserialize)]
#[serde(rename = "Expr")]
enum ExprRepr {
    Constant(Word),
    Fixed(u32),
    Advice(u32),
    Instance(u32),
    Negated(Box<Expr>),
    Sum(Box<Expr>, Box<Expr>),
    Product(Box<Expr>, Box<Expr>),
    Scaled(Box<Expr>, Word),
    Challenge(u32),
}

std::thread_local! {
    /// Nesting depth of the expression being decoded on this thread.
    static DECODE_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One level of expression decoding; leaves it when dropped, on success or error.
struct DepthGuard;

impl DepthGuard {
    fn enter() -> (Self, usize) {
        let depth = DECODE_DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        (DepthGuard, depth)
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DECODE_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (_level, depth) = DepthGuard::enter();
        if depth > MAX_EXPR_DEPTH {
            return Err(serde::de::Error::custom(format!(
                "expression nested deeper than {MAX_EXPR_DEPTH} levels"
            )));
        }
        Ok(match ExprRepr::deserialize(d)? {
            ExprRepr::Constant(w) => Expr::Constant(w),
            ExprRepr::Fixed(i) => Expr::Fixed(i),
            ExprRepr::Advice(i) => Expr::Advice(i),
            ExprRepr::Instance(i) => Expr::Instance(i),
            ExprRepr::Negated(a) => Expr::Negated(a),
            ExprRepr::Sum(a, b) => Expr::Sum(a, b),
            ExprRepr::Product(a, b) => Expr::Product(a, b),
            ExprRepr::Scaled(a, w) => Expr::Scaled(a, w),
            ExprRepr::Challenge(i) => Expr::Challenge(i),
        })
    }
}

/// A lookup argument: input expressions must appear as a row of the table expressions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupArg {
    /// Input expressions.
    pub inputs: Vec<Expr>,
    /// Table expressions.
    pub tables: Vec<Expr>,
}

/// A class of model values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueClass {
    /// The model's inputs.
    Inputs,
    /// The model's outputs.
    Outputs,
    /// The model's parameters.
    Parameters,
}

/// Who sees a class of values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VisibilityInfo {
    /// Every value is a public instance value.
    Public,
    /// Known only to the prover.
    Private,
    /// Known only to the prover; one public value is their Poseidon hash.
    Hashed,
    /// Part of the verifying key (parameters only).
    Fixed,
    /// Known only to the prover; one public value is a blinded commitment linking them to the
    /// neighbouring segment of a cut program (inputs and outputs only).
    Linked,
}

/// One tensor of the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorInfo {
    /// Name.
    pub name: String,
    /// Shape.
    pub shape: Vec<u64>,
    /// Scale: integer `q` stands for `q / 2^scale`.
    pub scale: i32,
}

impl TensorInfo {
    /// Number of values (saturating: a shape too large to count is `u64::MAX`).
    pub fn len(&self) -> u64 {
        self.shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .unwrap_or(u64::MAX)
    }

    /// Whether the tensor holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One part of the public instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublicPart {
    /// A tensor's values, one instance value each, row-major (signed integers as field
    /// elements: `-v` is `r - v`).
    Values {
        /// Inputs or outputs.
        class: ValueClass,
        /// The tensor.
        tensor: TensorInfo,
    },
    /// One instance value: the Poseidon hash of these tensors' values, each packed with an
    /// envelope of `bits` bits.
    Hash {
        /// What is hashed.
        class: ValueClass,
        /// The tensors with their envelope bits, in hashing order.
        tensors: Vec<(TensorInfo, u32)>,
    },
    /// One instance value: a commitment to these tensors' values, the Poseidon hash of a
    /// secret blinding value and the values packed as for [`PublicPart::Hash`]. The segments
    /// on either side of a cut commit to the tensors they pass with the same blinding value,
    /// so equal commitments link them.
    Link {
        /// Inputs or outputs.
        class: ValueClass,
        /// The tensors with their envelope bits, in order.
        tensors: Vec<(TensorInfo, u32)>,
    },
    /// `4 * limbs` instance values: the KZG accumulator of an aggregate, two points `lhs`
    /// and `rhs` into which the proofs it verified in-circuit folded their final pairings
    /// (see [`crate::accumulator`]). Each coordinate is `limbs` little-endian limbs of `bits`
    /// bits, in the order `lhs.x`, `lhs.y`, `rhs.x`, `rhs.y`. The verifier decides
    /// `e(lhs, G2) = e(rhs, s G2)` besides the proof's own pairing.
    Accumulator {
        /// Limbs per coordinate.
        limbs: u32,
        /// Bits per limb.
        bits: u32,
    },
}

impl PublicPart {
    /// Number of instance values the part takes.
    pub fn instance_len(&self) -> u64 {
        match self {
            PublicPart::Values { tensor, .. } => tensor.len(),
            PublicPart::Hash { .. } | PublicPart::Link { .. } => 1,
            PublicPart::Accumulator { limbs, .. } => 4 * u64::from(*limbs),
        }
    }
}

/// What the public values mean.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Keccak-256 of the compiled program.
    pub program_digest: Word,
    /// Value bits of the program.
    pub value_bits: u32,
    /// Visibility of the inputs.
    pub inputs: VisibilityInfo,
    /// Visibility of the outputs.
    pub outputs: VisibilityInfo,
    /// Visibility of the parameters.
    pub parameters: VisibilityInfo,
    /// The public instance, part by part, in order.
    pub public: Vec<PublicPart>,
}

/// The verifying key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyingKey {
    /// log2 of the number of rows.
    pub k: u32,
    /// Generator of the evaluation domain.
    pub omega: Word,
    /// Its inverse.
    pub omega_inv: Word,
    /// Coset generator separating permutation columns.
    pub delta: Word,
    /// Constraint degree.
    pub degree: u32,
    /// Blinding rows.
    pub blinding_factors: u32,
    /// The proving system's own digest of the constraint system.
    pub transcript_repr: Word,
    /// Advice columns.
    pub num_advice_columns: u32,
    /// How many of the advice columns (the last ones) are committed in the second phase,
    /// after the challenges are drawn.
    pub second_phase_advice: u32,
    /// Challenges drawn after the first-phase advice commitments.
    pub challenges: u32,
    /// Public values expected (one instance column).
    pub num_instance_values: u32,
    /// Advice queries.
    pub advice_queries: Vec<Query>,
    /// Fixed queries.
    pub fixed_queries: Vec<Query>,
    /// Instance queries.
    pub instance_queries: Vec<Query>,
    /// Gate polynomials, in order.
    pub gates: Vec<Expr>,
    /// Columns of the permutation argument, in order.
    pub permutation_columns: Vec<ColumnRef>,
    /// Lookup arguments, in order.
    pub lookups: Vec<LookupArg>,
    /// Commitments to the fixed columns.
    pub fixed_commitments: Vec<G1Bytes>,
    /// Commitments to the permutation polynomials.
    pub permutation_commitments: Vec<G1Bytes>,
    /// SRS: the G1 generator.
    pub g1: G1Bytes,
    /// SRS: the G2 generator.
    pub g2: G2Bytes,
    /// SRS: `s * G2`.
    pub s_g2: G2Bytes,
    /// Meaning of the public values.
    pub model: ModelInfo,
}

fn codec(limit: usize) -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(limit as u64)
}

/// A key file: `magic`, `version` (little-endian u32), then the key in bincode.
pub(crate) fn encode_key<T: Serialize>(magic: &[u8; 8], version: u32, key: &T) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend(codec(usize::MAX).serialize(key).expect("keys serialize"));
    out
}

/// Reads what [`encode_key`] wrote, with typed errors for another file, another version and a
/// body that does not decode.
pub(crate) fn decode_key<T: serde::de::DeserializeOwned>(
    magic: &[u8; 8],
    supported: u32,
    bytes: &[u8],
) -> Result<T, KeyError> {
    if !bytes.starts_with(magic) {
        return Err(KeyError::NotAKey);
    }
    let found = bytes
        .get(8..12)
        .map(|v| u32::from_le_bytes(v.try_into().expect("4")))
        .ok_or(KeyError::Corrupt("truncated header".into()))?;
    if found != supported {
        return Err(KeyError::UnsupportedVersion { found, supported });
    }
    let body = &bytes[12..];
    codec(body.len())
        .deserialize(body)
        .map_err(|e| KeyError::Corrupt(e.to_string()))
}

impl VerifyingKey {
    /// Serializes the key with its header.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_key(VK_MAGIC, VK_FORMAT_VERSION, self)
    }

    /// Decodes a key and checks that it is well formed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let vk: Self = decode_key(VK_MAGIC, VK_FORMAT_VERSION, bytes)?;
        vk.check()?;
        Ok(vk)
    }

    /// Keccak-256 of the serialized key: the key's identity (`zkml inspect vk.bin` prints it;
    /// [`crate::pinned_key`] and `zkml verify --vk-digest` require it).
    pub fn key_digest(&self) -> [u8; 32] {
        Keccak256::digest(self.to_bytes()).into()
    }

    /// [`Self::key_digest`] reduced to a scalar: absorbed first into every transcript, binding
    /// proofs to this exact key.
    pub fn digest(&self) -> Fr {
        use ark_ff::PrimeField;
        Fr::from_be_bytes_mod_order(&self.key_digest())
    }

    /// Structural checks: sizes, query and column indices, decodable elements.
    pub fn check(&self) -> Result<(), KeyError> {
        let bad = |m: String| Err(KeyError::Inconsistent(m));
        if !(1..=28).contains(&self.k) {
            return bad(format!("k = {}", self.k));
        }
        if !(3..=16).contains(&self.degree) {
            return bad(format!("degree {}", self.degree));
        }
        if self.blinding_factors as u64 + 2 >= 1u64 << self.k {
            return bad("more blinding rows than rows".into());
        }
        if self.num_instance_values as u64 + self.blinding_factors as u64 + 1 > 1u64 << self.k {
            return bad("more public values than usable rows".into());
        }
        if self.second_phase_advice > self.num_advice_columns
            || self.challenges > 4
            || (self.second_phase_advice > 0) != (self.challenges > 0)
        {
            return bad(format!(
                "{} second-phase advice columns of {} with {} challenges",
                self.second_phase_advice, self.num_advice_columns, self.challenges
            ));
        }
        let nf = self.fixed_commitments.len() as u32;
        for q in &self.advice_queries {
            if q.column >= self.num_advice_columns || q.rotation.unsigned_abs() > 1 << 20 {
                return bad(format!("advice query {q:?}"));
            }
        }
        for q in &self.fixed_queries {
            if q.column >= nf || q.rotation.unsigned_abs() > 1 << 20 {
                return bad(format!("fixed query {q:?}"));
            }
        }
        for q in &self.instance_queries {
            if q.column != 0 || q.rotation.unsigned_abs() > 1 << 20 {
                return bad(format!("instance query {q:?}"));
            }
        }
        if self.permutation_columns.len() != self.permutation_commitments.len() {
            return bad("one permutation commitment per permutation column is required".into());
        }
        for c in &self.permutation_columns {
            let ok = match *c {
                ColumnRef::Advice(i) => self
                    .advice_queries
                    .iter()
                    .any(|q| q.column == i && q.rotation == 0),
                ColumnRef::Fixed(i) => self
                    .fixed_queries
                    .iter()
                    .any(|q| q.column == i && q.rotation == 0),
                ColumnRef::Instance(i) => {
                    i == 0
                        && self
                            .instance_queries
                            .iter()
                            .any(|q| q.column == 0 && q.rotation == 0)
                }
            };
            if !ok {
                return bad(format!("permutation column {c:?} has no current-row query"));
            }
        }
        let exprs = self.gates.iter().chain(
            self.lookups
                .iter()
                .flat_map(|l| l.inputs.iter().chain(&l.tables)),
        );
        for e in exprs {
            self.check_expr(e, 0)?;
        }
        for l in &self.lookups {
            if l.inputs.len() != l.tables.len() || l.inputs.is_empty() {
                return bad("lookup input and table arities differ".into());
            }
        }
        // Every scalar and point must decode.
        self.decoded()?;
        let public = self
            .model
            .public
            .iter()
            .try_fold(0u64, |n, p| n.checked_add(p.instance_len()))
            .unwrap_or(u64::MAX);
        let accumulators = self
            .model
            .public
            .iter()
            .filter_map(|p| match *p {
                PublicPart::Accumulator { limbs, bits } => Some((limbs, bits)),
                _ => None,
            })
            .collect::<Vec<_>>();
        match accumulators[..] {
            [] => {}
            // Limbs below the scalar field (so each is one public value), coordinates of at
            // least the base field's 254 bits and at most 512.
            [(limbs, bits)]
                if (1..=252).contains(&bits)
                    && (1..=16).contains(&limbs)
                    && (254..=512).contains(&(limbs * bits)) => {}
            [(limbs, bits)] => {
                return bad(format!(
                    "an accumulator of {limbs} limbs of {bits} bits per coordinate"
                ))
            }
            _ => return bad("more than one accumulator".into()),
        }
        if public != u64::from(self.num_instance_values) {
            return bad(format!(
                "the model describes {public} public values, the circuit expects {}",
                self.num_instance_values
            ));
        }
        Ok(())
    }

    fn check_expr(&self, e: &Expr, depth: usize) -> Result<(), KeyError> {
        if depth > MAX_EXPR_DEPTH {
            return Err(KeyError::Inconsistent(
                "expression nested too deeply".into(),
            ));
        }
        let idx_ok = |i: u32, n: usize, what: &str| -> Result<(), KeyError> {
            if (i as usize) < n {
                Ok(())
            } else {
                Err(KeyError::Inconsistent(format!(
                    "{what} query index {i} out of range"
                )))
            }
        };
        match e {
            Expr::Constant(w) | Expr::Scaled(_, w) if fr_from_be(w).is_none() => {
                Err(KeyError::InvalidElement { what: "constant" })
            }
            Expr::Constant(_) => Ok(()),
            Expr::Fixed(i) => idx_ok(*i, self.fixed_queries.len(), "fixed"),
            Expr::Advice(i) => idx_ok(*i, self.advice_queries.len(), "advice"),
            Expr::Instance(i) => idx_ok(*i, self.instance_queries.len(), "instance"),
            Expr::Challenge(i) => idx_ok(*i, self.challenges as usize, "challenge"),
            Expr::Negated(a) | Expr::Scaled(a, _) => self.check_expr(a, depth + 1),
            Expr::Sum(a, b) | Expr::Product(a, b) => {
                self.check_expr(a, depth + 1)?;
                self.check_expr(b, depth + 1)
            }
        }
    }

    /// Decoded points and scalars used by verification.
    pub(crate) fn decoded(&self) -> Result<Decoded, KeyError> {
        let g1 = |p: &G1Bytes| {
            g1_from_bytes(&p.to_array()).ok_or(KeyError::InvalidElement { what: "G1 point" })
        };
        let g2 = |p: &G2Bytes| {
            g2_from_bytes(&p.to_array()).ok_or(KeyError::InvalidElement { what: "G2 point" })
        };
        let fr = |w: &Word| fr_from_be(w).ok_or(KeyError::InvalidElement { what: "scalar" });
        Ok(Decoded {
            omega: fr(&self.omega)?,
            omega_inv: fr(&self.omega_inv)?,
            delta: fr(&self.delta)?,
            transcript_repr: fr(&self.transcript_repr)?,
            fixed: self
                .fixed_commitments
                .iter()
                .map(g1)
                .collect::<Result<_, _>>()?,
            permutation: self
                .permutation_commitments
                .iter()
                .map(g1)
                .collect::<Result<_, _>>()?,
            g1: g1(&self.g1)?,
            g2: g2(&self.g2)?,
            s_g2: g2(&self.s_g2)?,
        })
    }
}

/// Field and group elements of a key, decoded once.
pub(crate) struct Decoded {
    pub omega: Fr,
    pub omega_inv: Fr,
    pub delta: Fr,
    pub transcript_repr: Fr,
    pub fixed: Vec<G1Affine>,
    pub permutation: Vec<G1Affine>,
    pub g1: G1Affine,
    pub g2: G2Affine,
    pub s_g2: G2Affine,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `levels` nested negations of a fixed query, as encoded.
    fn nested(levels: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(levels * 4 + 8);
        for _ in 0..levels {
            out.extend_from_slice(&4u32.to_le_bytes()); // Negated
        }
        out.extend_from_slice(&1u32.to_le_bytes()); // Fixed
        out.extend_from_slice(&0u32.to_le_bytes());
        out
    }

    #[test]
    fn expressions_decode_up_to_the_depth_limit() {
        let mut e = Expr::Fixed(0);
        for _ in 1..MAX_EXPR_DEPTH {
            e = Expr::Negated(Box::new(e));
        }
        let bytes = codec(usize::MAX).serialize(&e).unwrap();
        assert_eq!(bytes, nested(MAX_EXPR_DEPTH - 1));
        let back: Expr = codec(bytes.len()).deserialize(&bytes).unwrap();
        assert_eq!(back, e);
        let deeper = nested(MAX_EXPR_DEPTH);
        let err = codec(deeper.len())
            .deserialize::<Expr>(&deeper)
            .unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
        // The depth count is back to zero after an error.
        let again: Expr = codec(bytes.len()).deserialize(&bytes).unwrap();
        assert_eq!(again, e);
    }

    #[test]
    fn a_key_of_nested_negations_is_rejected_not_a_stack_overflow() {
        // Header, the fixed-size fields, three empty query lists, then one gate of 250,000
        // nested negations (1 MB): decoding must stop at the limit with a typed error.
        let mut key = VK_MAGIC.to_vec();
        key.extend_from_slice(&VK_FORMAT_VERSION.to_le_bytes());
        key.extend_from_slice(&[0u8; 4 + 32 * 3 + 4 + 4 + 32 + 4 + 4]);
        key.extend_from_slice(&[0u8; 8 * 3]);
        key.extend_from_slice(&1u64.to_le_bytes());
        key.extend(nested(250_000));
        match VerifyingKey::from_bytes(&key) {
            Err(KeyError::Corrupt(msg)) => assert!(msg.contains("nested deeper"), "{msg}"),
            other => panic!("expected a corrupt-key error, got {other:?}"),
        }
    }
}
