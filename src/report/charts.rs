//! The report's two kinds of chart, drawn with plotters' SVG backend into strings: lines over
//! time (with an optional second y axis, shaded bands, vertical and horizontal markers) and
//! horizontal bars (in lanes per row, with whiskers and per-row marks, on a linear or log
//! axis). Text is written as SVG `<text>`, so no font is read or embedded.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;

/// The width every chart is drawn at (it scales down with the page).
const WIDTH: u32 = 900;
const FONT: &str = "sans-serif";
const AXIS_FONT_SIZE: u32 = 18;

/// Colours, distinguishable for the common colour-vision deficiencies (Okabe–Ito).
pub(crate) const BLUE: RGBColor = RGBColor(0, 114, 178);
pub(crate) const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub(crate) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(crate) const GREEN: RGBColor = RGBColor(0, 158, 115);
pub(crate) const SKY: RGBColor = RGBColor(86, 180, 233);
pub(crate) const GREY: RGBColor = RGBColor(110, 110, 110);
pub(crate) const PURPLE: RGBColor = RGBColor(204, 121, 167);

impl From<DrawingAreaErrorKind<std::io::Error>> for ReportError {
    fn from(error: DrawingAreaErrorKind<std::io::Error>) -> Self {
        ReportError::Chart(error.to_string())
    }
}

/// One line of a time chart.
pub(crate) struct Line {
    pub name: String,
    pub color: RGBColor,
    /// Drawn thin, for a line on the secondary axis.
    pub thin: bool,
    /// `(seconds, value)`.
    pub points: Vec<(f64, f64)>,
}

/// A line chart over time (x in seconds), or over another x with [`TimeChart::svg_over`].
pub(crate) struct TimeChart {
    pub y_desc: String,
    pub lines: Vec<Line>,
    /// A second y axis on the right, with its own lines.
    pub secondary: Option<(String, Vec<Line>)>,
    /// Shaded x ranges, `(from s, to s, label)`.
    pub bands: Vec<(f64, f64, String)>,
    /// Vertical markers, `(s, label)`.
    pub verticals: Vec<(f64, String)>,
    /// Horizontal markers on the primary axis, `(value, label)`.
    pub horizontals: Vec<(f64, String)>,
}

fn max_of<'a>(values: impl Iterator<Item = &'a f64>) -> f64 {
    values.copied().fold(0.0, f64::max)
}

fn line_style(line: &Line) -> ShapeStyle {
    line.color.stroke_width(if line.thin { 1 } else { 2 })
}

impl TimeChart {
    /// The chart as an SVG element. A horizontal marker far above the data (more than twice
    /// its highest point) is left out rather than squash the lines; the caption gives it.
    pub fn svg(&self, duration_s: f64) -> Result<String, ReportError> {
        self.svg_over(duration_s, "time since start (s)")
    }

    /// The same chart over another x axis, from 0 to at least `x_max`.
    pub fn svg_over(&self, x_max: f64, x_desc: &str) -> Result<String, ReportError> {
        let duration_s = x_max;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, 380)).into_drawing_area();
            root.fill(&WHITE)?;
            let x_max = duration_s.max(max_of(self.lines.iter().flat_map(|l| l.points.iter().map(|(x, _)| x))));
            let x_range = 0f64..x_max.max(1e-3);
            let data_max = max_of(self.lines.iter().flat_map(|l| l.points.iter().map(|(_, y)| y)));
            let horizontals: Vec<&(f64, String)> =
                self.horizontals.iter().filter(|(y, _)| data_max > 0.0 && *y <= 2.0 * data_max).collect();
            let y_max = nice_max(max_of(horizontals.iter().map(|(y, _)| y)).max(data_max));
            let secondary_max = self
                .secondary
                .as_ref()
                .map_or(1.0, |(_, lines)| nice_max(max_of(lines.iter().flat_map(|l| l.points.iter().map(|(_, y)| y)))));
            // The secondary axis is set before the mesh is drawn, so that the right label area is its.
            let mut chart = ChartBuilder::on(&root)
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size(72)
                .right_y_label_area_size(if self.secondary.is_some() { 64 } else { 0 })
                .build_cartesian_2d(x_range.clone(), 0f64..y_max)?
                .set_secondary_coord(x_range, 0f64..secondary_max);
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(self.y_desc.as_str())
                .label_style((FONT, AXIS_FONT_SIZE))
                .axis_desc_style((FONT, AXIS_FONT_SIZE))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            let note = |color: &RGBColor, h_pos| (FONT, 17).into_font().color(color).pos(Pos::new(h_pos, VPos::Top));
            for (from, to, label) in &self.bands {
                let band = Rectangle::new([(*from, 0.0), (*to, y_max)], ORANGE.mix(0.15).filled());
                chart.draw_series(std::iter::once(band))?;
                chart.draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (*from, y_max),
                    note(&BLACK, HPos::Left),
                )))?;
            }
            for (x, label) in &self.verticals {
                chart.draw_series(LineSeries::new([(*x, 0.0), (*x, y_max)], GREEN.stroke_width(2)))?;
                let at = (*x, y_max * 0.93);
                chart.draw_series(std::iter::once(Text::new(label.clone(), at, note(&GREEN, HPos::Left))))?;
            }
            for (y, label) in horizontals {
                chart.draw_series(DashedLineSeries::new([(0.0, *y), (x_max, *y)], 6, 4, VERMILLION.stroke_width(1)))?;
                let at = (x_max * 0.01, *y + y_max * 0.06);
                chart.draw_series(std::iter::once(Text::new(label.clone(), at, note(&VERMILLION, HPos::Left))))?;
            }
            for line in &self.lines {
                let style = line_style(line);
                chart
                    .draw_series(LineSeries::new(line.points.iter().copied(), style))?
                    .label(line.name.as_str())
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
            }
            if let Some((desc, lines)) = &self.secondary {
                chart
                    .configure_secondary_axes()
                    .y_desc(desc.as_str())
                    .label_style((FONT, AXIS_FONT_SIZE))
                    .axis_desc_style((FONT, AXIS_FONT_SIZE))
                    .draw()?;
                for line in lines {
                    let style = line_style(line);
                    chart
                        .draw_secondary_series(LineSeries::new(line.points.iter().copied(), style))?
                        .label(line.name.as_str())
                        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
                }
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font((FONT, 17))
                .background_style(WHITE.mix(0.85))
                .border_style(GREY)
                .draw()?;
            root.present()?;
        }
        Ok(svg)
    }
}

/// A round axis maximum a little above `value`.
fn nice_max(value: f64) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    // value / magnitude is in [1, 10), so with 5% headroom a step up to 12 always fits.
    let step = [1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0]
        .into_iter()
        .find(|step| step * magnitude >= value * 1.05)
        .unwrap_or(12.0);
    step * magnitude
}

/// One bar of a [`BarChart`]: from `from` to `to` in lane `lane` of row `row`.
pub(crate) struct Bar {
    pub row: usize,
    pub lane: usize,
    pub from: f64,
    pub to: f64,
    pub color: RGBColor,
    /// An interval drawn as a whisker across the bar's end, `(lower, upper)`.
    pub whisker: Option<(f64, f64)>,
}

/// The value axis of a [`BarChart`].
pub(crate) struct ValueAxis {
    pub desc: String,
    /// Logarithmic (base 10) rather than linear.
    pub log: bool,
    pub min: f64,
    pub max: f64,
    /// A value, in the axis's unit, as a tick label.
    pub format: fn(f64) -> String,
}

impl ValueAxis {
    /// Where `value` sits on the drawn (linear) axis: itself, or its log clamped to the range.
    fn place(&self, value: f64) -> f64 {
        if self.log { value.max(self.min).min(self.max).log10() } else { value.clamp(self.min, self.max) }
    }
}

/// Horizontal bars, one row per label (top to bottom), each row split into `lanes`.
pub(crate) struct BarChart {
    pub axis: ValueAxis,
    pub rows: Vec<String>,
    pub lanes: usize,
    pub bars: Vec<Bar>,
    /// A short vertical mark across a whole row at a value, `(row, value)`, e.g. its budget.
    pub marks: Vec<(usize, f64)>,
    /// A vertical line across every row at a value.
    pub rule: Option<f64>,
    /// The legend: `(label, colour)`; bars are drawn in their colour, marks in [`VERMILLION`].
    pub legend: Vec<(String, RGBColor)>,
}

impl BarChart {
    /// The chart as an SVG element; `label_width` pixels are kept for the row labels.
    pub fn svg(&self, label_width: u32) -> Result<String, ReportError> {
        let row_height = 14 + 18 * self.lanes as u32;
        let legend_height = if self.legend.is_empty() { 0 } else { 30 };
        let height = 70 + legend_height + row_height * self.rows.len().max(1) as u32;
        let rows = self.rows.len() as f64;
        let (x_min, x_max) = (self.axis.place(self.axis.min), self.axis.place(self.axis.max));
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE)?;
            let (legend_area, plot_area) = root.split_vertically(legend_height);
            let mut chart = ChartBuilder::on(&plot_area)
                .margin(12)
                .margin_right(30)
                .x_label_area_size(48)
                .y_label_area_size(label_width)
                .build_cartesian_2d(x_min..x_max, 0f64..rows.max(1.0))?;
            let format = self.axis.format;
            let log = self.axis.log;
            let tick = move |v: &f64| if log { format(10f64.powf(*v)) } else { format(*v) };
            let decades = (x_max - x_min).round() as usize + 1;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_label_formatter(&|_| String::new())
                .x_labels(if log { decades } else { 8 })
                .x_label_formatter(&tick)
                .x_desc(self.axis.desc.as_str())
                .label_style((FONT, AXIS_FONT_SIZE))
                .axis_desc_style((FONT, AXIS_FONT_SIZE))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()?;
            // Row r is drawn from the top: y from rows - r - 1 to rows - r, with a 0.15 margin.
            let lane = |row: usize, lane: usize| {
                let top = rows - row as f64 - 0.15;
                let height = 0.7 / self.lanes as f64;
                (top - height * (lane + 1) as f64, top - height * lane as f64)
            };
            for bar in &self.bars {
                let (y0, y1) = lane(bar.row, bar.lane);
                let (from, to) = (self.axis.place(bar.from), self.axis.place(bar.to));
                chart.draw_series(std::iter::once(Rectangle::new([(from, y0), (to, y1)], bar.color.filled())))?;
                if let Some((lower, upper)) = bar.whisker {
                    let (lower, upper) = (self.axis.place(lower), self.axis.place(upper));
                    let middle = (y0 + y1) / 2.0;
                    let cap = (y1 - y0) * 0.3;
                    let style = BLACK.stroke_width(1);
                    chart.draw_series([
                        PathElement::new([(lower, middle), (upper, middle)], style),
                        PathElement::new([(lower, middle - cap), (lower, middle + cap)], style),
                        PathElement::new([(upper, middle - cap), (upper, middle + cap)], style),
                    ])?;
                }
            }
            for &(row, value) in &self.marks {
                let x = self.axis.place(value);
                let (bottom, top) = (rows - row as f64 - 0.95, rows - row as f64 - 0.05);
                chart.draw_series(LineSeries::new([(x, bottom), (x, top)], VERMILLION.stroke_width(3)))?;
            }
            if let Some(value) = self.rule {
                let x = self.axis.place(value);
                chart.draw_series(LineSeries::new([(x, 0.0), (x, rows)], BLACK.stroke_width(1)))?;
            }
            let label_style = (FONT, 18).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
            for (row, label) in self.rows.iter().enumerate() {
                let (x, y) = chart.backend_coord(&(x_min, rows - row as f64 - 0.5));
                root.draw(&Text::new(label.clone(), (x - 8, y), label_style.clone()))?;
            }
            let mut x = label_width as i32;
            let key_style = (FONT, 18).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
            for (label, color) in &self.legend {
                legend_area.draw(&Rectangle::new([(x, 10), (x + 16, 24)], color.filled()))?;
                legend_area.draw(&Text::new(label.clone(), (x + 22, 17), key_style.clone()))?;
                x += 44 + 10 * label.chars().count() as i32;
            }
            root.present()?;
        }
        Ok(svg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round_and_above_the_data() {
        assert_eq!(nice_max(17.6), 20.0);
        assert_eq!(nice_max(150.0), 200.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        for value in [0.3, 1.0, 9.9, 95.0, 123_456.0] {
            assert!(nice_max(value) >= value * 1.05, "{value}");
        }
    }
}
