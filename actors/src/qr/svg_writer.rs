//! SVG output: a background rectangle and one path of dark modules, in the same pixel geometry as
//! the PNG. `width` and `height` give the pixel size, the `viewBox` makes the image scale to any
//! size, and `shape-rendering="crispEdges"` keeps module edges sharp. Each horizontal run of
//! dark modules is one closed rectangle `M x y h w v m h -w z` in the path.

use super::encode::ModuleGrid;
use super::options::Rgb;
use super::render::Layout;
use std::fmt::Write;

/// Writes the grid as a standalone SVG document.
pub fn write(grid: &ModuleGrid, layout: Layout, fg: Rgb, bg: Rgb) -> Vec<u8> {
    let size = layout.size;
    let mut svg = String::with_capacity(256 + grid.width * grid.width * 8);
    // `write!` into a String cannot fail, so its results are ignored.
    let _ = write!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{size}\" \
         height=\"{size}\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">\n\
         <rect width=\"{size}\" height=\"{size}\" fill=\"{bg}\"/>\n<path fill=\"{fg}\" d=\""
    );
    for y in 0..grid.width {
        for (start, end) in dark_runs(grid, y) {
            let x = layout.offset + start * layout.module;
            let top = layout.offset + y as u32 * layout.module;
            let length = (end - start) * layout.module;
            let _ = write!(svg, "M{x} {top}h{length}v{}h-{length}z", layout.module);
        }
    }
    svg.push_str("\"/>\n</svg>\n");
    svg.into_bytes()
}

/// Finds the runs of dark modules in row `y`, as half-open column ranges.
fn dark_runs(grid: &ModuleGrid, y: usize) -> Vec<(u32, u32)> {
    let mut runs = Vec::new();
    let mut start = None;
    for x in 0..=grid.width {
        let dark = x < grid.width && grid.is_dark(x, y);
        match (dark, start) {
            (true, None) => start = Some(x),
            (false, Some(begin)) => {
                runs.push((begin as u32, x as u32));
                start = None;
            }
            _ => {}
        }
    }
    runs
}
