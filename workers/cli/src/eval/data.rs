//! The public data sets, as read from the evaluation data directory.

use super::*;

/// The path of a data file, or an error naming it.
pub fn data_file(data: &Path, relative: &str) -> anyhow::Result<PathBuf> {
    let path = data.join(relative);
    if !path.is_file() {
        bail!(
            "evaluation data file {} not found (expected under the data directory {})",
            path.display(),
            data.display()
        );
    }
    Ok(path)
}

/// One row of Bitext `bitext/dev.csv`. `category`, `team` and `tags` serve sections to come
/// (routing).
#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)]
pub struct BitextRow {
    pub instruction: String,
    pub intent: String,
    pub category: String,
    pub team: String,
    pub handoff_label: String,
    #[serde(default)]
    pub tags: String,
}

pub fn read_bitext<R: std::io::Read>(reader: R, origin: &str) -> anyhow::Result<Vec<BitextRow>> {
    csv::Reader::from_reader(reader)
        .deserialize()
        .enumerate()
        .map(|(i, r)| r.with_context(|| format!("{origin}: record {}", i + 1)))
        .collect()
}

pub fn load_bitext(data: &Path) -> anyhow::Result<Vec<BitextRow>> {
    let path = data_file(data, "bitext/dev.csv")?;
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    read_bitext(file, &path.display().to_string())
}

/// A text with its source label (intent or category).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledText {
    pub text: String,
    pub label: String,
}

/// Banking77 `banking77/train.csv` (`text,category`).
pub fn read_banking77<R: std::io::Read>(
    reader: R,
    origin: &str,
) -> anyhow::Result<Vec<LabelledText>> {
    #[derive(Deserialize)]
    struct Row {
        text: String,
        category: String,
    }
    csv::Reader::from_reader(reader)
        .deserialize::<Row>()
        .enumerate()
        .map(|(i, r)| {
            let r = r.with_context(|| format!("{origin}: record {}", i + 1))?;
            Ok(LabelledText {
                text: r.text,
                label: r.category,
            })
        })
        .collect()
}

pub fn load_banking77(data: &Path) -> anyhow::Result<Vec<LabelledText>> {
    let path = data_file(data, "banking77/train.csv")?;
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    read_banking77(file, &path.display().to_string())
}

/// CLINC150 `clinc150/data_full_train_val.json`: splits of `[text, intent]` pairs, all splits
/// together.
pub fn read_clinc<R: std::io::Read>(reader: R, origin: &str) -> anyhow::Result<Vec<LabelledText>> {
    let splits: BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_reader(reader).with_context(|| format!("parsing {origin}"))?;
    Ok(splits
        .into_values()
        .flatten()
        .map(|(text, label)| LabelledText { text, label })
        .collect())
}

pub fn load_clinc(data: &Path) -> anyhow::Result<Vec<LabelledText>> {
    let path = data_file(data, "clinc150/data_full_train_val.json")?;
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    read_clinc(std::io::BufReader::new(file), &path.display().to_string())
}

/// iSarcasmEval: sarcastic tweets, their authors' plain rephrases, and non-sarcastic tweets.
pub fn load_isarcasmeval(data: &Path) -> anyhow::Result<Vec<(String, bool, String)>> {
    #[derive(serde::Deserialize)]
    struct Row {
        tweet: String,
        sarcastic: u8,
        #[serde(default)]
        rephrase: String,
    }
    let path = data_file(data, "isarcasmeval/train.En.csv")?;
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for row in reader.deserialize::<Row>() {
        let row = row.with_context(|| format!("parsing {}", path.display()))?;
        out.push((row.tweet, row.sarcastic == 1, row.rephrase));
    }
    Ok(out)
}

/// The negatives of a data set with nothing to find: every text a negative sample.
pub fn negatives(rows: Vec<LabelledText>) -> Vec<Sample> {
    rows.into_iter()
        .map(|r| Sample {
            text: r.text,
            gold: false,
            label: r.label,
        })
        .collect()
}
