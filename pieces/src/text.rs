//! Text normalisation: how references compare and how search matches.
//!
//! Search compares *folded* text (lowercased, accents dropped, ligatures
//! spelled out: [`kit::text::fold`], the one folding stock's search uses
//! too). The folded form is computed in Rust and stored beside the row, so
//! that SQLite (which folds ASCII only) compares plain strings and can index
//! them.

use unicode_normalization::UnicodeNormalization;

pub use kit::text::fold;

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
