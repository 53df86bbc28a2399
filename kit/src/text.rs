//! Text folding: how search compares text, in every service that searches.
//!
//! A French workshop types `écrou`, `Écrou`, `ECROU` or `ecrou` for the same
//! nut, and its clients may send accents precomposed (`é`, NFC) or decomposed
//! (`e` + U+0301, NFD, as macOS does). So search compares *folded* text:
//! decomposed, combining marks dropped, ligatures spelled out, lowercased.
//! SQLite folds ASCII only (`LIKE`, `lower`), so the services fold in Rust,
//! store the folded form beside the row, and compare plain strings.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `s` lowercased, without accents, `œ`/`æ`/`ß` spelled out: the form search
/// (and pieces' name ordering) compares.
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
}
