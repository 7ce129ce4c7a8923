//! A proving key whose inner lengths were edited, with its checksum recomputed (no barrier to
//! an attacker), is a clear error: never an abort or an allocation of what the edit asks for.

use std::path::Path;

use zkml_circuits::sizing::minimal_k;
use zkml_circuits::{CircuitParams, VisibilityConfig};
use zkml_ir::{Op, ProgramBuilder};
use zkml_prover::keys::keccak;
use zkml_prover::{generate_keys, srs, ProvingKeyFile};

/// A small key's file bytes and where its halo2 body starts.
fn key() -> (Vec<u8>, usize) {
    let bytes = key_file(4, 2).to_bytes();
    let (_, at) = ProvingKeyFile::read_header(&bytes, Path::new("pk.bin")).unwrap();
    (bytes, at + 32)
}

/// A small key with `lanes` lanes of `results` results.
fn key_file(lanes: usize, results: usize) -> ProvingKeyFile {
    let (program, params, srs) = small(lanes, results);
    generate_keys(&program, params, VisibilityConfig::default(), &srs)
        .unwrap()
        .0
}

/// A small program, its circuit of `lanes` lanes of `results` results, and an SRS of its size.
fn small(lanes: usize, results: usize) -> (zkml_ir::Program, CircuitParams, srs::Srs) {
    let mut b = ProgramBuilder::new(12).unwrap();
    let x = b.input("x", vec![4], 0).unwrap();
    let y = b.push("relu", Op::Relu, &[x]).unwrap();
    b.output(y, "y");
    let program = b.finish().unwrap();
    let mut params = CircuitParams {
        k: 20,
        lanes,
        results,
        range_streams: 1,
        table_streams: 0,
        range_bits: 6,
        degree: 4,
        poseidon: false,
        fold: 0,
        freivalds: false,
        table_banks: 0,
    };
    let layout = zkml_circuits::build(&program, None, params, VisibilityConfig::default()).unwrap();
    params.k = minimal_k(&layout);
    let srs = srs::generate(params.k, 3);
    (program, params, srs)
}

/// The verifying keys made alone (to check a saved proof without its proving key) are the
/// ones key generation makes, halo2's and the exported one.
#[test]
fn verifying_keys_made_alone_are_the_proving_keys_own() {
    let (program, params, srs) = small(4, 2);
    let vis = VisibilityConfig::default();
    let (pk, exported) = generate_keys(&program, params, vis, &srs).unwrap();
    let (vk, alone) = zkml_prover::generate_verifying_keys(&program, params, vis, &srs).unwrap();
    assert_eq!(alone.to_bytes(), exported.to_bytes());
    assert_eq!(vk.transcript_repr(), pk.pk.get_vk().transcript_repr());
}

/// The key cache makes room for a key from its counted length: it is the written length, for
/// shapes with more fixed and permuted columns as well.
#[test]
fn a_key_file_length_is_counted_without_writing_it() {
    for (lanes, results) in [(4, 2), (16, 8)] {
        let pk = key_file(lanes, results);
        assert_eq!(
            pk.file_len(),
            pk.to_bytes().len() as u64,
            "{lanes} lanes x {results}"
        );
    }
}

/// `bytes` with the body's checksum recomputed.
fn resealed(mut bytes: Vec<u8>, body: usize) -> Vec<u8> {
    let sum = keccak(&bytes[body..]);
    bytes[body - 32..body].copy_from_slice(&sum);
    bytes
}

/// Decodes `bytes` from memory and, written to a file, from the file (which is read without
/// being held in memory); both must give the same verdict and the same error.
fn decode(bytes: &[u8]) -> Result<(), String> {
    let in_memory = ProvingKeyFile::from_bytes(bytes, Path::new("pk.bin"))
        .map(|_| ())
        .map_err(|e| e.to_string());
    let dir = std::env::temp_dir().join(format!("zkml-pk-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{n}.bin"));
    std::fs::write(&path, bytes).unwrap();
    let from_file = ProvingKeyFile::read_file(&path)
        .map(|_| ())
        .map_err(|e| e.to_string().replace(&path.display().to_string(), "pk.bin"));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(in_memory, from_file, "the two readers disagree");
    in_memory
}

#[test]
fn edited_lengths_inside_a_resealed_key_are_errors() {
    let (bytes, body) = key();
    decode(&bytes).expect("the honest key decodes");
    let k = u32::from_le_bytes(bytes[body + 1..body + 5].try_into().unwrap());
    // The first polynomial length (l0's): 2^k, big-endian, after the verifying key.
    let n = (1u32 << k).to_be_bytes();
    let l0 = (body + 10..bytes.len() - 4)
        .find(|&i| bytes[i..i + 4] == n)
        .expect("l0's length");
    type Edit = Box<dyn Fn(&mut Vec<u8>)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "a huge polynomial",
            Box::new(move |b| b[l0..l0 + 4].copy_from_slice(&[0xff; 4])),
        ),
        ("a longer polynomial", Box::new(move |b| b[l0 + 2] ^= 0x10)),
        ("another k", Box::new(move |b| b[body + 1] ^= 1)),
        ("a huge fixed count", Box::new(move |b| b[body + 9] = 0x7f)),
        ("a bad selector flag", Box::new(move |b| b[body + 5] = 2)),
        (
            "trailing bytes",
            Box::new(|b| b.extend_from_slice(&[0; 32])),
        ),
        ("a cut key", Box::new(|b| b.truncate(b.len() - 40))),
    ];
    for (what, edit) in edits {
        let mut b = bytes.clone();
        edit(&mut b);
        let err = decode(&resealed(b, body)).expect_err(what);
        assert!(
            err.contains("corrupt key") || err.contains("cannot decode"),
            "{what}: {err}"
        );
    }
}

/// A key made for another layout revision (its header rewritten, as an older build wrote it:
/// without the field) is refused before its body is read, naming the revision.
#[test]
fn keys_of_another_layout_revision_are_refused() {
    let (bytes, _) = key();
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[16..16 + len]).unwrap();
    assert_eq!(
        header["layout_revision"],
        serde_json::json!(zkml_circuits::LAYOUT_REVISION)
    );
    header.as_object_mut().unwrap().remove("layout_revision");
    let new_header = serde_json::to_vec(&header).unwrap();
    let mut old = bytes[..12].to_vec();
    old.extend((new_header.len() as u32).to_le_bytes());
    old.extend(&new_header);
    old.extend(&bytes[16 + len..]);
    let err = decode(&old).expect_err("a key of revision 1");
    assert!(
        err.contains("layout revision 1") && err.contains("run setup again"),
        "{err}"
    );
    // Unedited, the same body decodes.
    decode(&bytes).expect("the honest key decodes");
}

/// A key of another format version is refused by both readers, naming the version, even
/// where what follows is not a header this build could read.
#[test]
fn keys_of_another_format_version_are_refused() {
    let (bytes, _) = key();
    for header_len in [None, Some(u32::MAX)] {
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        if let Some(len) = header_len {
            b[12..16].copy_from_slice(&len.to_le_bytes());
        }
        let err = decode(&b).expect_err("a key of format version 2");
        assert!(err.contains("format version 2"), "{err}");
    }
}

/// A shape with fewer rows than its layout needs (a plan file or a cached plan edited, or
/// made by another build) is refused with an error naming both sizes, for both kinds of key,
/// before halo2 is asked to assign rows the circuit does not have.
#[test]
fn a_shape_too_small_for_its_layout_is_an_error() {
    let (program, params, _) = small(4, 2);
    let short = CircuitParams {
        k: params.k - 1,
        ..params
    };
    let srs = srs::generate(short.k, 3);
    let vis = VisibilityConfig::default();
    let expect = format!(
        "the layout needs 2^{} rows and the circuit has 2^{}",
        params.k, short.k
    );
    let err = generate_keys(&program, short, vis, &srs).err().unwrap();
    assert!(err.to_string().contains(&expect), "{err}");
    let err = zkml_prover::generate_verifying_keys(&program, short, vis, &srs)
        .err()
        .unwrap();
    assert!(err.to_string().contains(&expect), "{err}");
}
