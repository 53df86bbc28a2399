//! Printable label sheets: A4 pages of a common label grid, each label a
//! QR code (the code a scanner reads back) beside the text a person reads.
//! One sheet is one SVG document in millimetres, printed from the browser
//! at 100 %; pieces print theirs, stock its locations'.

use std::fmt::Write;

use qrcode::{Color, EcLevel, QrCode};

/// What one label shows.
pub struct Label {
    /// What the QR code encodes, and a scanner types.
    pub code: String,
    /// The first, bold line (a reference, a location code).
    pub title: String,
    /// Smaller lines under it (a name, a place), cut to the label's width.
    pub lines: Vec<String>,
}

/// A label grid on A4, in millimetres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    pub name: &'static str,
    columns: u32,
    rows: u32,
    width: f64,
    height: f64,
    top: f64,
    left: f64,
    column_gap: f64,
}

/// 3 × 8 labels of 70 × 37 mm edge to edge, and 2 × 7 of 99.1 × 38.1 mm
/// with margins (the two grids office labels come in most).
pub const LAYOUTS: [Layout; 2] = [
    Layout {
        name: "3x8",
        columns: 3,
        rows: 8,
        width: 70.0,
        height: 37.0,
        top: 0.5,
        left: 0.0,
        column_gap: 0.0,
    },
    Layout {
        name: "2x7",
        columns: 2,
        rows: 7,
        width: 99.1,
        height: 38.1,
        top: 15.15,
        left: 4.65,
        column_gap: 2.5,
    },
];

/// The longest code a label encodes: a QR code of it stays readable at
/// the size of a 37 mm label.
pub const MAX_CODE_CHARS: usize = 100;

impl Layout {
    pub fn parse(name: &str) -> Option<Layout> {
        LAYOUTS.into_iter().find(|layout| layout.name == name)
    }

    /// Labels on one sheet.
    pub fn capacity(&self) -> usize {
        (self.columns * self.rows) as usize
    }

    /// Where the label at `position` (0-based, row by row) starts.
    fn origin(&self, position: usize) -> (f64, f64) {
        let position = u32::try_from(position).unwrap_or(0);
        let (row, column) = (position / self.columns, position % self.columns);
        (
            self.left + f64::from(column) * (self.width + self.column_gap),
            self.top + f64::from(row) * self.height,
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LabelError {
    #[error(
        "Une planche {layout} porte {capacity} étiquettes ; {asked} demandées à partir de la position {first}."
    )]
    TooMany {
        layout: &'static str,
        capacity: usize,
        first: usize,
        asked: usize,
    },
    #[error("Code trop long pour une étiquette : {0}.")]
    CodeTooLong(String),
}

const PAGE_WIDTH: f64 = 210.0;
const PAGE_HEIGHT: f64 = 297.0;
/// White around a label's content, inside its edges (cutting tolerance).
const PADDING: f64 = 3.0;
/// The width of an average character, in em: bold capitals (references,
/// codes) run wider than a name's lower case.
const BOLD_EM: f64 = 0.68;
const REGULAR_EM: f64 = 0.6;
/// Modules of white around the QR code that decoders look for.
const QUIET_ZONE: usize = 2;

/// One sheet: `labels` from position `skip` on (the first labels of a
/// sheet already partly used stay blank).
pub fn sheet(layout: &Layout, skip: usize, labels: &[Label]) -> Result<String, LabelError> {
    if skip + labels.len() > layout.capacity() {
        return Err(LabelError::TooMany {
            layout: layout.name,
            capacity: layout.capacity(),
            first: skip + 1,
            asked: labels.len(),
        });
    }
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{PAGE_WIDTH}mm\" height=\"{PAGE_HEIGHT}mm\" \
         viewBox=\"0 0 {PAGE_WIDTH} {PAGE_HEIGHT}\" font-family=\"DejaVu Sans, Arial, sans-serif\">\
         <rect width=\"{PAGE_WIDTH}\" height=\"{PAGE_HEIGHT}\" fill=\"#fff\"/>"
    );
    for (offset, label) in labels.iter().enumerate() {
        let (x, y) = layout.origin(skip + offset);
        draw(&mut svg, layout, x, y, label)?;
    }
    svg.push_str("</svg>");
    Ok(svg)
}

fn draw(
    svg: &mut String,
    layout: &Layout,
    x: f64,
    y: f64,
    label: &Label,
) -> Result<(), LabelError> {
    if label.code.chars().count() > MAX_CODE_CHARS {
        return Err(LabelError::CodeTooLong(label.code.clone()));
    }
    let code = QrCode::with_error_correction_level(label.code.as_bytes(), EcLevel::M)
        .map_err(|_| LabelError::CodeTooLong(label.code.clone()))?;
    let side = layout.height - 2.0 * PADDING;
    let modules = code.width() + 2 * QUIET_ZONE;
    let module = side / modules as f64;
    let _ = write!(
        svg,
        "<g transform=\"translate({:.3} {:.3}) scale({module:.4})\"><path fill=\"#000\" d=\"",
        x + PADDING,
        y + PADDING
    );
    // One rectangle per run of dark modules in a row.
    for (row, modules) in code.to_colors().chunks(code.width()).enumerate() {
        let mut column = 0;
        while column < modules.len() {
            let run = modules[column..]
                .iter()
                .take_while(|color| **color == Color::Dark)
                .count();
            if run > 0 {
                let _ = write!(
                    svg,
                    "M{} {}h{run}v1h-{run}z",
                    column + QUIET_ZONE,
                    row + QUIET_ZONE
                );
            }
            column += run.max(1);
        }
    }
    svg.push_str("\"/></g>");
    let text_x = x + PADDING + side + 2.0;
    let text_width = layout.width - (text_x - x) - PADDING;
    let (title, size) = fit(&label.title, text_width, BOLD_EM, (4.2, 2.6));
    let _ = write!(
        svg,
        "<text x=\"{text_x:.3}\" y=\"{:.3}\" font-size=\"{size:.2}\" font-weight=\"bold\">{}</text>",
        y + PADDING + 5.0,
        escape(&title)
    );
    let lines = label.lines.iter().filter(|l| !l.is_empty()).take(3);
    for (index, line) in lines.enumerate() {
        let (line, size) = fit(line, text_width, REGULAR_EM, (3.0, 2.4));
        let _ = write!(
            svg,
            "<text x=\"{text_x:.3}\" y=\"{:.3}\" font-size=\"{size:.2}\">{}</text>",
            y + PADDING + 11.0 + 5.0 * index as f64,
            escape(&line)
        );
    }
    Ok(())
}

/// `text` at the largest size from `largest` down to `smallest` (mm) at
/// which it fits `width` mm, a character being about `em` of the size
/// wide; cut with an ellipsis if it does not fit even the smallest.
fn fit(text: &str, width: f64, em: f64, (largest, smallest): (f64, f64)) -> (String, f64) {
    let chars = text.chars().count().max(1);
    if chars as f64 * em * smallest <= width {
        return (text.to_owned(), (width / (chars as f64 * em)).min(largest));
    }
    let room = (width / (em * smallest)).floor().max(1.0) as usize;
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    (cut, smallest)
}

fn escape(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).fold(
        String::with_capacity(text.len()),
        |mut out, c| {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                c => out.push(c),
            }
            out
        },
    )
}

/// `ids=3,1,2`: positive ids without sign or leading zero, as many as
/// one sheet holds; the order is the labels' order.
pub fn parse_ids(raw: &str, capacity: usize) -> Option<Vec<i64>> {
    let ids: Option<Vec<i64>> = raw
        .split(',')
        .map(|id| {
            let digits = id.len() <= 18
                && id.starts_with(|c: char| ('1'..='9').contains(&c))
                && id.chars().all(|c| c.is_ascii_digit());
            digits.then(|| id.parse().ok()).flatten()
        })
        .collect();
    ids.filter(|ids| !ids.is_empty() && ids.len() <= capacity)
}

/// A sheet as a route is asked for it: `ids` (in label order), `layout`
/// (`3x8` by default) and `skip`, the labels already used on the sheet.
pub struct Order {
    pub layout: Layout,
    pub skip: usize,
    pub ids: Vec<i64>,
}

impl Order {
    /// Every problem at once, a 400 per parameter.
    pub fn from_query(query: &crate::page::Query) -> Result<Order, crate::Error> {
        let mut errors = std::collections::BTreeMap::<String, Vec<String>>::new();
        let mut fail =
            |name: &str, message: String| errors.entry(name.to_owned()).or_default().push(message);
        let names: Vec<&str> = LAYOUTS.iter().map(|l| l.name).collect();
        let layout = match query.get("layout") {
            None => Some(LAYOUTS[0]),
            Some(name) => Layout::parse(name).or_else(|| {
                fail(
                    "layout",
                    format!("Planches possibles : {}.", names.join(", ")),
                );
                None
            }),
        };
        let capacity = layout.map_or(LAYOUTS[0].capacity(), |l| l.capacity());
        let skip = match query.get("skip") {
            None => Some(0),
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|skip| {
                    *skip < capacity
                        && (raw == "0" || !raw.starts_with('0'))
                        && !raw.starts_with('+')
                })
                .or_else(|| {
                    fail(
                        "skip",
                        format!(
                            "Nombre d'étiquettes déjà utilisées, de 0 à {}.",
                            capacity - 1
                        ),
                    );
                    None
                }),
        };
        let ids = match query.get("ids") {
            None => {
                fail(
                    "ids",
                    "Paramètre requis : les identifiants, séparés par des virgules.".into(),
                );
                None
            }
            Some(raw) => parse_ids(raw, capacity).or_else(|| {
                fail(
                    "ids",
                    format!(
                        "1 à {capacity} identifiants (entiers positifs) séparés par des virgules."
                    ),
                );
                None
            }),
        };
        match (layout, skip, ids) {
            (Some(layout), Some(skip), Some(ids)) if errors.is_empty() => {
                Ok(Order { layout, skip, ids })
            }
            _ => Err(crate::Error::Validation(errors)),
        }
    }
}

/// The sheet of `labels`, as the route's answer (an SVG image).
pub fn response(order: &Order, labels: &[Label]) -> Result<spin_sdk::http::Response, crate::Error> {
    let svg = sheet(&order.layout, order.skip, labels)
        .map_err(|e| crate::Error::field("ids", e.to_string()))?;
    Ok(spin_sdk::http::Response::builder()
        .status(200)
        .header("content-type", "image/svg+xml; charset=utf-8")
        .header("cache-control", "no-store")
        .body(svg)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(code: &str) -> Label {
        Label {
            code: code.to_owned(),
            title: code.to_owned(),
            lines: vec!["Écrou <M6> & rondelle".to_owned()],
        }
    }

    #[test]
    fn a_sheet_places_each_label_in_its_cell_and_escapes_text() {
        let layout = Layout::parse("3x8").unwrap();
        let svg = sheet(&layout, 4, &[label("A-1"), label("B-2")]).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<path").count(), 2);
        // Position 4 is row 1, column 1; position 5 row 1, column 2.
        assert!(svg.contains("translate(73.000 40.500)"), "{svg}");
        assert!(svg.contains("translate(143.000 40.500)"), "{svg}");
        assert!(svg.contains("Écrou &lt;M6&gt; &amp; rondelle"), "{svg}");
    }

    #[test]
    fn a_sheet_holds_what_its_grid_holds() {
        let layout = Layout::parse("2x7").unwrap();
        let fourteen: Vec<Label> = (0..14).map(|i| label(&format!("P-{i}"))).collect();
        assert!(sheet(&layout, 0, &fourteen).is_ok());
        assert!(matches!(
            sheet(&layout, 1, &fourteen),
            Err(LabelError::TooMany { capacity: 14, .. })
        ));
        assert!(sheet(&layout, 0, &[label(&"X".repeat(101))]).is_err());
    }

    #[test]
    fn ids_are_plain_positive_numbers() {
        assert_eq!(parse_ids("3,1,2", 24), Some(vec![3, 1, 2]));
        for bad in [
            "",
            "0",
            "01",
            "+1",
            "1,,2",
            "1 ,2",
            "-1",
            "1.0",
            "1234567890123456789",
        ] {
            assert_eq!(parse_ids(bad, 24), None, "{bad}");
        }
        assert_eq!(parse_ids("1,2,3", 2), None);
    }

    #[test]
    fn long_text_shrinks_then_is_cut_with_an_ellipsis() {
        assert_eq!(
            fit("court", 40.0, 0.6, (3.0, 2.0)),
            ("court".to_owned(), 3.0)
        );
        let (shrunk, size) = fit(&"x".repeat(20), 30.0, 0.6, (3.0, 2.0));
        assert_eq!((shrunk.len(), size), (20, 2.5));
        // 15 capitals in 31 mm: shrunk, whole (a float rounding must not cut it).
        let (whole, _) = fit("TEST-MX5DEHNGFU", 31.0, BOLD_EM, (4.2, 2.6));
        assert_eq!(whole, "TEST-MX5DEHNGFU");
        let (cut, size) = fit(&"x".repeat(100), 12.0, 0.6, (3.0, 2.0));
        assert_eq!(size, 2.0);
        assert!(cut.ends_with('…') && cut.chars().count() == 10, "{cut}");
    }
}
