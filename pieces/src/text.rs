//! Text normalisation: how references compare and how search matches.
//!
//! A French workshop types `écrou`, `Écrou`, `ECROU` or `ecrou` for the same
//! nut, and its clients may send accents precomposed (`é`, NFC) or decomposed
//! (`e` + U+0301, NFD, as macOS does). So search compares *folded* text:
//! decomposed, combining marks dropped, ligatures spelled out, lowercased.
//! The folded form is computed here, in Rust, and stored beside the row, so
//! that SQLite (which folds ASCII only) compares plain strings and can index
//! them.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `s` lowercased, without accents, `œ`/`æ`/`ß` spelled out: the form search
/// and name ordering compare.
pub fn fold(s: &str) -> String {
    let mut folded = String::with_capacity(s.len());
    for c in s.nfd().filter(|c| !is_combining_mark(*c)) {
        match c {
            // NFD leaves ligatures whole: they are letters of their own.
            'œ' | 'Œ' => folded.push_str("oe"),
            'æ' | 'Æ' => folded.push_str("ae"),
            'ß' | 'ẞ' => folded.push_str("ss"),
            _ => folded.extend(c.to_lowercase()),
        }
    }
    folded
}

/// The key that makes references unique: trimmed and lowercased, so `ECR-1`
/// and ` ecr-1 ` are the same piece. Accents stay significant (`É-1` and
/// `E-1` may be two references), as the issue asks case-insensitivity only.
/// NFC first, so that the two spellings of one accented letter are one key.
pub fn reference_key(reference: &str) -> String {
    reference.trim().nfc().collect::<String>().to_lowercase()
}

/// The text `search` matches: the folded reference, name, description and
/// barcode, one per line so that a match cannot straddle two fields.
pub fn search_text(
    reference: &str,
    name: &str,
    description: &str,
    barcode: Option<&str>,
) -> String {
    [reference, name, description, barcode.unwrap_or_default()]
        .map(fold)
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_and_case_fold_away() {
        assert_eq!(fold("Écrou à œillet"), "ecrou a oeillet");
        assert_eq!(fold("ÉCROU"), fold("écrou"));
        assert_eq!(fold("ecrou"), fold("ÉCROU"));
        assert_eq!(fold("Ça coûte"), "ca coute");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("ÆTHER"), "aether");
    }

    #[test]
    fn decomposed_and_precomposed_accents_fold_alike() {
        let precomposed = "\u{e9}crou";
        let decomposed = "e\u{301}crou";
        assert_ne!(precomposed, decomposed);
        assert_eq!(fold(precomposed), fold(decomposed));
    }

    #[test]
    fn non_latin_text_survives() {
        assert_eq!(fold("Вал 10мм"), "вал 10мм");
        assert_eq!(fold("M8 × 1,25"), "m8 × 1,25");
    }

    #[test]
    fn reference_keys_ignore_case_and_surrounding_space_only() {
        assert_eq!(reference_key("  ECR-M8 "), "ecr-m8");
        assert_eq!(reference_key("Écr-M8"), reference_key("éCR-m8"));
        assert_eq!(reference_key("e\u{301}"), reference_key("\u{e9}"));
        assert_ne!(reference_key("É-1"), reference_key("E-1"));
        assert_eq!(reference_key("A B"), "a b");
    }

    #[test]
    fn search_text_keeps_fields_apart() {
        assert_eq!(
            search_text("ECR-8", "Écrou", "", Some("3760")),
            "ecr-8\necrou\n\n3760"
        );
        assert_eq!(search_text("R", "N", "D", None), "r\nn\nd\n");
    }
}
