//! Key generation and the proving-key file.
//!
//! ```text
//! proving key file
//! offset  size  content
//! 0       8     magic "ZKMLPK\0\0"
//! 8       4     format version (u32 LE, currently 1)
//! 12      4     header length H (u32 LE)
//! 16      H     header, JSON (see ProvingKeyHeader)
//! 16+H    32    Keccak-256 of the halo2 proving key bytes that follow
//! 48+H    ...   halo2 proving key (raw bytes)
//! ```
//!
//! The checksum is verified, and every length inside the halo2 key checked against the bytes
//! that follow (`pk_layout`), before the proving system parses anything, so a corrupt or
//! crafted key is a clear error and never a crash or an unbounded allocation.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;

use halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_proofs::plonk::{keygen_pk2, keygen_vk_custom, ProvingKey, VerifyingKey};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use zkml_circuits::visibility::PublicPart as CircuitPart;
use zkml_circuits::{CircuitParams, ModelCircuit, ParamVisibility, Visibility, VisibilityConfig};
use zkml_ir::Program;
use zkml_verifier::vk::{ModelInfo, PublicPart, TensorInfo, ValueClass, VisibilityInfo};

use crate::device::Device;
use crate::error::ProverError;
use crate::export::export_vk;
use crate::once::SynthesizeOnce;

/// First bytes of a proving key file.
pub const PK_MAGIC: &[u8; 8] = b"ZKMLPK\0\0";
/// Proving key format version.
pub const PK_FORMAT_VERSION: u32 = 1;
/// The longest header [`ProvingKeyFile::read_file`] reads (headers are a few hundred bytes).
const MAX_HEADER: u64 = 1 << 20;

/// What a proving key was made for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProvingKeyHeader {
    /// Keccak-256 of the compiled program, hex.
    pub program_digest: String,
    /// Circuit shape.
    pub circuit: CircuitParams,
    /// Visibility of inputs, outputs and parameters.
    pub visibility: VisibilityConfig,
    /// Keccak-256 of the verifying key file, hex.
    pub vk_digest: String,
    /// The gates and layouts the key was made for ([`zkml_circuits::LAYOUT_REVISION`]); keys
    /// written before the field existed are revision 1.
    #[serde(default = "first_layout_revision")]
    pub layout_revision: u32,
}

fn first_layout_revision() -> u32 {
    1
}

/// A proving key with its header.
pub struct ProvingKeyFile {
    /// Header.
    pub header: ProvingKeyHeader,
    /// halo2's proving key.
    pub pk: ProvingKey<G1Affine>,
}

/// Keccak-256 of bytes.
pub fn keccak(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

/// Keccak-256 of a compiled program's canonical bytes.
pub fn program_digest(program: &Program) -> [u8; 32] {
    keccak(&zkml_ir::format::to_bytes(program))
}

/// Describes a program's public instance for the verifying key.
pub fn model_info(
    program: &Program,
    visibility: VisibilityConfig,
) -> Result<ModelInfo, ProverError> {
    let tensor = |node: usize| {
        let n = &program.nodes[node];
        let name = program
            .outputs
            .iter()
            .position(|&o| o == node)
            .map_or_else(|| n.name.clone(), |k| program.output_names[k].clone());
        TensorInfo {
            name,
            shape: n.shape.iter().map(|&d| d as u64).collect(),
            scale: n.scale,
        }
    };
    let class = |c: zkml_circuits::visibility::ValueClass| match c {
        zkml_circuits::visibility::ValueClass::Inputs => ValueClass::Inputs,
        zkml_circuits::visibility::ValueClass::Outputs => ValueClass::Outputs,
        zkml_circuits::visibility::ValueClass::Parameters => ValueClass::Parameters,
    };
    let public = zkml_circuits::visibility::public_parts(program, visibility)?
        .into_iter()
        .map(|part| match part {
            CircuitPart::Values { class: c, node } => PublicPart::Values {
                class: class(c),
                tensor: tensor(node),
            },
            CircuitPart::Hash { class: c, tensors } => PublicPart::Hash {
                class: class(c),
                tensors: tensors.iter().map(|t| (tensor(t.node), t.bits)).collect(),
            },
            CircuitPart::Link { class: c, tensors } => PublicPart::Link {
                class: class(c),
                tensors: tensors.iter().map(|t| (tensor(t.node), t.bits)).collect(),
            },
        })
        .collect();
    let io = |v: Visibility| match v {
        Visibility::Public => VisibilityInfo::Public,
        Visibility::Private => VisibilityInfo::Private,
        Visibility::Hashed => VisibilityInfo::Hashed,
        Visibility::Linked => VisibilityInfo::Linked,
    };
    Ok(ModelInfo {
        program_digest: program_digest(program),
        value_bits: program.value_bits,
        inputs: io(visibility.inputs),
        outputs: io(visibility.outputs),
        parameters: match visibility.params {
            ParamVisibility::Fixed => VisibilityInfo::Fixed,
            ParamVisibility::Private => VisibilityInfo::Private,
            ParamVisibility::Hashed => VisibilityInfo::Hashed,
        },
        public,
    })
}

/// Generates the proving and verifying keys of `program` laid out with `circuit`.
/// `srs` must hold exactly `2^circuit.k` points.
pub fn generate_keys(
    program: &Program,
    circuit: CircuitParams,
    visibility: VisibilityConfig,
    srs: &ParamsKZG<Bn256>,
) -> Result<(ProvingKeyFile, zkml_verifier::VerifyingKey), ProverError> {
    generate_keys_on(Device::Cpu, program, circuit, visibility, srs)
}

/// [`generate_keys`] on `device` (the CUDA prover's keys are meant to equal the CPU's byte for byte).
pub fn generate_keys_on(
    device: Device,
    program: &Program,
    circuit: CircuitParams,
    visibility: VisibilityConfig,
    srs: &ParamsKZG<Bn256>,
) -> Result<(ProvingKeyFile, zkml_verifier::VerifyingKey), ProverError> {
    let layout = zkml_circuits::build(program, None, circuit, visibility)?;
    zkml_circuits::sizing::check_rows(&layout)?;
    if device == Device::Gpu {
        crate::device::check_gpu_supports(&layout)?;
    }
    let n_public = layout.instance.len();
    let model_circuit = ModelCircuit::new(layout);
    let pk = match device {
        // One synthesis of the circuit and one permutation assembly make both keys (the
        // verifying key is built along with the proving key); the layout is let go once it
        // is written.
        Device::Cpu => keygen_pk2(srs, &SynthesizeOnce::new(model_circuit), true)
            .map_err(|e| ProverError::Halo2(format!("key generation: {e:?}")))?,
        Device::Gpu => gpu_keygen(srs, &model_circuit)?,
    };
    let exported = export_vk(pk.get_vk(), srs, model_info(program, visibility)?, n_public)?;
    let header = ProvingKeyHeader {
        program_digest: hex::encode(program_digest(program)),
        circuit,
        visibility,
        vk_digest: hex::encode(keccak(&exported.to_bytes())),
        layout_revision: zkml_circuits::LAYOUT_REVISION,
    };
    Ok((ProvingKeyFile { header, pk }, exported))
}

/// The verifying keys alone (halo2's, and the exported one), without the proving key's
/// polynomials (the fixed columns' and the permutation's coefficients and values, the row
/// indicators) that [`generate_keys`] also makes and holds. A proof saved by an earlier run
/// is checked under them when its proving key is no longer at hand.
pub fn generate_verifying_keys(
    program: &Program,
    circuit: CircuitParams,
    visibility: VisibilityConfig,
    srs: &ParamsKZG<Bn256>,
) -> Result<(VerifyingKey<G1Affine>, zkml_verifier::VerifyingKey), ProverError> {
    let layout = zkml_circuits::build(program, None, circuit, visibility)?;
    zkml_circuits::sizing::check_rows(&layout)?;
    let n_public = layout.instance.len();
    // Selectors compressed as `keygen_pk2` compresses them: the same key.
    let vk = keygen_vk_custom(srs, &SynthesizeOnce::new(ModelCircuit::new(layout)), true)
        .map_err(|e| ProverError::Halo2(format!("key generation: {e:?}")))?;
    let exported = export_vk(&vk, srs, model_info(program, visibility)?, n_public)?;
    Ok((vk, exported))
}

#[cfg(feature = "gpu")]
fn gpu_keygen(
    srs: &ParamsKZG<Bn256>,
    circuit: &ModelCircuit,
) -> Result<ProvingKey<G1Affine>, ProverError> {
    crate::gpu::keygen(srs, circuit)
}

#[cfg(not(feature = "gpu"))]
fn gpu_keygen(_: &ParamsKZG<Bn256>, _: &ModelCircuit) -> Result<ProvingKey<G1Affine>, ProverError> {
    Err(ProverError::NoGpu(crate::device::NOT_BUILT.into()))
}

impl ProvingKeyFile {
    /// Serializes the key.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        self.write_to(&mut out)
            .expect("writing to memory does not fail");
        out.into_inner()
    }

    /// Writes the key as [`ProvingKeyFile::to_bytes`] lays it out, streaming its body (a large
    /// key is never held twice in memory): the checksum's place is filled once the body, hashed
    /// on its way out, is written. Returns the number of bytes written.
    pub fn write_to<W: Write + Seek>(&self, out: &mut W) -> std::io::Result<u64> {
        let header = serde_json::to_vec(&self.header).expect("headers serialize");
        let start = out.stream_position()?;
        out.write_all(PK_MAGIC)?;
        out.write_all(&PK_FORMAT_VERSION.to_le_bytes())?;
        out.write_all(&(header.len() as u32).to_le_bytes())?;
        out.write_all(&header)?;
        let checksum_at = out.stream_position()?;
        out.write_all(&[0u8; 32])?;
        let checksum: [u8; 32] = {
            let mut body = HashingWriter {
                inner: std::io::BufWriter::with_capacity(1 << 20, &mut *out),
                hasher: Keccak256::new(),
            };
            self.pk.write(&mut body, SerdeFormat::RawBytesUnchecked)?;
            body.inner.flush()?;
            body.hasher.finalize().into()
        };
        let end = out.stream_position()?;
        out.seek(SeekFrom::Start(checksum_at))?;
        out.write_all(&checksum)?;
        out.seek(SeekFrom::Start(end))?;
        Ok(end - start)
    }

    /// The number of bytes [`ProvingKeyFile::write_to`] writes, counted from the key's shape
    /// without serializing its polynomials (the key cache makes room for a key before writing
    /// it). The body is halo2's layout: the verifying key, the three row indicators, the fixed
    /// columns' values and coefficients, then the permutation's, every polynomial a `u32` length
    /// and its scalars, every list of them a `u32` count first.
    pub fn file_len(&self) -> u64 {
        let header = serde_json::to_vec(&self.header)
            .expect("headers serialize")
            .len() as u64;
        let vk = self.pk.get_vk();
        let mut vk_bytes = Vec::new();
        vk.write(&mut vk_bytes, SerdeFormat::RawBytesUnchecked)
            .expect("writing to memory does not fail");
        let poly = 4 + 32 * vk.get_domain().n;
        let list = |count: usize| 4 + count as u64 * poly;
        let fixed = vk.cs().num_fixed_columns();
        let permuted = vk.cs().permutation().get_columns().len();
        let body = vk_bytes.len() as u64 + 3 * poly + 2 * list(fixed) + 2 * list(permuted);
        (PK_MAGIC.len() + 4 + 4) as u64 + header + 32 + body
    }

    /// Reads only the header (cheap).
    pub fn read_header(
        bytes: &[u8],
        path: &Path,
    ) -> Result<(ProvingKeyHeader, usize), ProverError> {
        let err = |reason: String| ProverError::ProvingKey {
            path: path.display().to_string(),
            reason,
        };
        if !bytes.starts_with(PK_MAGIC) {
            return Err(err(
                "not a zkml proving key (missing the ZKMLPK header)".into()
            ));
        }
        let word = |at: usize| {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4")))
        };
        let version = word(8).ok_or_else(|| err("truncated header".into()))?;
        if version != PK_FORMAT_VERSION {
            return Err(err(format!("format version {version} is not supported (this build reads version {PK_FORMAT_VERSION})")));
        }
        let len = word(12).ok_or_else(|| err("truncated header".into()))? as usize;
        let header_bytes = bytes
            .get(16..16 + len)
            .ok_or_else(|| err("truncated header".into()))?;
        let header: ProvingKeyHeader = serde_json::from_slice(header_bytes)
            .map_err(|e| err(format!("corrupt header: {e}")))?;
        header.circuit.validate().map_err(|e| err(e.to_string()))?;
        if header.layout_revision != zkml_circuits::LAYOUT_REVISION {
            return Err(err(format!(
                "made for circuit layout revision {}, and this build lays circuits out by \
                 revision {}: run setup again",
                header.layout_revision,
                zkml_circuits::LAYOUT_REVISION
            )));
        }
        Ok((header, 16 + len))
    }

    /// Reads and checks a proving key.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, ProverError> {
        let err = |reason: String| ProverError::ProvingKey {
            path: path.display().to_string(),
            reason,
        };
        let (header, at) = Self::read_header(bytes, path)?;
        let checksum = bytes
            .get(at..at + 32)
            .ok_or_else(|| err("truncated before the key".into()))?;
        let body = &bytes[at + 32..];
        if keccak(body) != checksum {
            return Err(err(
                "checksum mismatch: the file is corrupt or was modified".into(),
            ));
        }
        let params = header.circuit;
        // Every length inside the key is checked against the bytes that follow before halo2
        // allocates what it asks for.
        crate::pk_layout::check(body, params).map_err(|e| err(format!("corrupt key: {e}")))?;
        let pk = decode_checked(Cursor::new(body), params).map_err(err)?;
        Ok(Self { header, pk })
    }
}

/// Decodes a halo2 proving key whose checksum and lengths were checked.
fn decode_checked(
    mut body: impl Read,
    params: CircuitParams,
) -> Result<ProvingKey<G1Affine>, String> {
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ProvingKey::<G1Affine>::read::<_, ModelCircuit>(
            &mut body,
            SerdeFormat::RawBytesUnchecked,
            params,
        )
    }));
    match parsed {
        Ok(Ok(pk)) => Ok(pk),
        Ok(Err(e)) => Err(format!("cannot decode the key: {e}")),
        Err(_) => Err("cannot decode the key".into()),
    }
}

impl ProvingKeyFile {
    /// Reads and checks the proving key file at `path` as [`ProvingKeyFile::from_bytes`]
    /// does, without holding the file in memory: its body is hashed and its lengths checked in
    /// one pass, then decoded in a second, both from the same open file (a key written to the
    /// same path meanwhile, through a rename, does not mix in).
    pub fn read_file(path: &Path) -> Result<Self, ProverError> {
        let err = |reason: String| ProverError::ProvingKey {
            path: path.display().to_string(),
            reason,
        };
        let io = |e: std::io::Error| err(format!("cannot read: {e}"));
        let mut file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut head = [0u8; 16];
        file.read_exact(&mut head)
            .map_err(|_| err("truncated header".into()))?;
        let len = u32::from_le_bytes(head[12..16].try_into().expect("4")) as u64;
        if len > MAX_HEADER || 16 + len + 32 > size {
            // The header reader names what is wrong first (not a key, another version).
            Self::read_header(&head, path)?;
            return Err(err("truncated header".into()));
        }
        let mut start = head.to_vec();
        start.resize(16 + len as usize + 32, 0);
        file.read_exact(&mut start[16..]).map_err(io)?;
        let (header, at) = Self::read_header(&start, path)?;
        let checksum: [u8; 32] = start[at..at + 32].try_into().expect("32");
        let body_at = (at + 32) as u64;
        let body_len = usize::try_from(size - body_at)
            .map_err(|_| err("the key is too large for this machine".into()))?;
        let params = header.circuit;
        let mut hashed = HashingReader {
            inner: std::io::BufReader::with_capacity(1 << 20, &mut file),
            hasher: Keccak256::new(),
        };
        let walked = crate::pk_layout::check_stream(&mut hashed, body_len, params);
        // The walk stops at the first fault; the checksum covers the whole body.
        std::io::copy(&mut hashed, &mut std::io::sink()).map_err(io)?;
        let digest: [u8; 32] = hashed.hasher.finalize().into();
        // A key whose bytes were changed is reported as such, whatever its walk found.
        if digest != checksum {
            return Err(err(
                "checksum mismatch: the file is corrupt or was modified".into(),
            ));
        }
        walked.map_err(|e| err(format!("corrupt key: {e}")))?;
        file.seek(SeekFrom::Start(body_at)).map_err(io)?;
        let body = std::io::BufReader::with_capacity(1 << 20, &mut file);
        let pk = decode_checked(body, params).map_err(err)?;
        Ok(Self { header, pk })
    }
}

/// Passes bytes on from `inner`, hashing them.
struct HashingReader<R: Read> {
    inner: R,
    hasher: Keccak256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Passes bytes on to `inner`, hashing them.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Keccak256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
