//! HTML building blocks: escaping, tables, figures and the page around them. The page is
//! well-formed XML as well as HTML (every element closed, only XML's own entities), with its
//! CSS inline and no script.

use std::fmt::Write as _;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table cell: escaped text, or markup the report built itself.
pub(crate) enum Cell {
    Text(String),
    Html(String),
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::Text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::Text(text.to_owned())
    }
}

/// ✓ or ✗, coloured, with words for screen readers.
pub(crate) fn verdict(ok: bool) -> Cell {
    Cell::Html(if ok {
        r#"<span class="ok" aria-label="passed">✓</span>"#.to_owned()
    } else {
        r#"<span class="fail" aria-label="failed">✗</span>"#.to_owned()
    })
}

/// A link to a local file.
pub(crate) fn link(href: &str, text: &str) -> String {
    format!(r#"<a href="{}">{}</a>"#, escape(href), escape(text))
}

/// A table with a caption and a header row; numeric columns (all but the first) right-aligned.
pub(crate) fn table(caption: &str, header: &[&str], rows: Vec<Vec<Cell>>) -> String {
    let mut out = format!("<table>\n<caption>{}</caption>\n<thead><tr>", escape(caption));
    for name in header {
        let _ = write!(out, r#"<th scope="col">{}</th>"#, escape(name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (index, cell) in row.into_iter().enumerate() {
            let (open, close) = if index == 0 { (r#"<th scope="row">"#, "</th>") } else { ("<td>", "</td>") };
            let content = match cell {
                Cell::Text(text) => escape(&text),
                Cell::Html(html) => html,
            };
            let _ = write!(out, "{open}{content}{close}");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// A figure: the chart's SVG, labelled for screen readers, its caption, and the table of its
/// numbers folded beneath it.
pub(crate) fn figure(svg: &str, caption: &str, numbers: &str) -> String {
    let labelled = svg.replacen("<svg ", &format!(r#"<svg role="img" aria-label="{}" "#, escape(caption)), 1);
    format!(
        "<figure>\n{labelled}\n<figcaption>{}</figcaption>\n<details><summary>The numbers behind this chart</summary>\n{numbers}</details>\n</figure>\n",
        escape(caption)
    )
}

const CSS: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0 auto; max-width: 1000px;
       padding: 1rem 1.5rem 3rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.5rem; }
h3 { font-size: 1.1rem; margin-top: 1.8rem; }
.meta, figcaption, .note { color: #555; font-size: 0.92rem; }
figure { margin: 1rem 0 1.5rem; }
figure svg { width: 100%; height: auto; border: 1px solid #e3e3e3; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.9rem; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25rem 0.6rem; text-align: right;
         font-variant-numeric: tabular-nums; }
th[scope=row], thead th:first-child { text-align: left; font-weight: normal; }
thead th { border-bottom: 2px solid #bbb; font-weight: 600; }
details { margin: 0.4rem 0; } summary { cursor: pointer; color: #0072b2; font-size: 0.92rem; }
.ok { color: #007a5a; font-weight: 700; } .fail { color: #c0392b; font-weight: 700; }
.badge { display: inline-block; padding: 0.1rem 0.6rem; border-radius: 0.8rem; color: #fff; font-weight: 600; }
.badge.ok { background: #007a5a; color: #fff; } .badge.fail { background: #c0392b; color: #fff; }
.regressed { color: #c0392b; font-weight: 600; } .improved { color: #007a5a; font-weight: 600; }
";

/// The whole page around `body`.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n",
        title = escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_text_and_attributes() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let html = table("c", &["a", "b"], vec![vec!["<x>".into(), Cell::Html("<b>1</b>".into())]]);
        assert!(html.contains(r#"<th scope="row">&lt;x&gt;</th><td><b>1</b></td>"#), "{html}");
    }

    #[test]
    fn figures_label_their_svg() {
        let html = figure(r#"<svg width="1">x</svg>"#, "p95 \"now\"", "<table></table>");
        assert!(
            html.starts_with(
                r#"<figure>
<svg role="img" aria-label="p95 &quot;now&quot;" width="1">"#
            ),
            "{html}"
        );
    }
}
