//! Mask selection. A code's data modules are XORed with one of eight mask patterns. The encoder
//! keeps the mask whose result scores the lowest penalty for long runs, 2 × 2 blocks, false
//! finder patterns and an unbalanced share of dark modules, with the rules and weights of the QR
//! Code specification as the qrcode crate implements them. Any mask decodes, but a low penalty
//! keeps the pattern easy for scanners to read.
//!
//! The qrcode crate (0.14) scores these rules with a boxed closure per module position. In the
//! `qr_render_bench` example its mask selection took about 250 µs of a 265 µs render of a
//! version 3 code, so the penalties are scored here with plain loops over a module matrix.

use qrcode::canvas::{Canvas, MaskPattern};

/// Penalty weights N1 to N4 of the specification.
const RUN_PENALTY: u32 = 3;
const BLOCK_PENALTY: u32 = 3;
const FINDER_PENALTY: u32 = 40;
const BALANCE_PENALTY: u32 = 10;

/// A run of this many modules of one color in a row or column starts to cost.
const MIN_PENALIZED_RUN: u32 = 5;
/// Modules in the 1:1:3:1:1 core of a finder pattern.
const FINDER_CORE: usize = 7;
/// Light modules next to a finder-like pattern that make it look like a real one.
const FINDER_QUIET: usize = 4;

const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// Applies each mask to a copy of `canvas` (data and function patterns drawn, no mask yet) and
/// returns the row-major modules, `true` for dark, of the one with the lowest penalty.
pub fn apply_best_mask(canvas: &Canvas, width: usize) -> Vec<bool> {
    let mut best = masked(canvas, MASKS[0]);
    let mut best_score = penalty(&best, width);
    for mask in &MASKS[1..] {
        let modules = masked(canvas, *mask);
        let score = penalty(&modules, width);
        if score < best_score {
            best = modules;
            best_score = score;
        }
    }
    best
}

fn masked(canvas: &Canvas, mask: MaskPattern) -> Vec<bool> {
    let mut canvas = canvas.clone();
    canvas.apply_mask(mask);
    canvas
        .into_colors()
        .into_iter()
        .map(|color| color == qrcode::Color::Dark)
        .collect()
}

/// Scores the four penalty rules for a row-major square of modules.
pub fn penalty(modules: &[bool], width: usize) -> u32 {
    let mut columns = Vec::with_capacity(modules.len());
    for x in 0..width {
        columns.extend((0..width).map(|y| modules[y * width + x]));
    }

    let mut score = block_penalty(modules, width) + balance_penalty(modules);
    for line in modules.chunks(width).chain(columns.chunks(width)) {
        score += run_penalty(line) + finder_penalty(line);
    }
    score
}

/// Rule 1: each run of five or more modules of one color costs 3, plus 1 per module beyond five.
fn run_penalty(line: &[bool]) -> u32 {
    let cost = |run: u32| {
        if run >= MIN_PENALIZED_RUN {
            RUN_PENALTY + run - MIN_PENALIZED_RUN
        } else {
            0
        }
    };
    let mut score = 0;
    let mut run = 1;
    for pair in line.windows(2) {
        if pair[0] == pair[1] {
            run += 1;
        } else {
            score += cost(run);
            run = 1;
        }
    }
    score + cost(run)
}

/// Rule 2: each 2 × 2 block of one color costs 3, overlapping blocks counted separately.
fn block_penalty(modules: &[bool], width: usize) -> u32 {
    let mut score = 0;
    for y in 0..width.saturating_sub(1) {
        let (top, bottom) = (
            &modules[y * width..(y + 1) * width],
            &modules[(y + 1) * width..(y + 2) * width],
        );
        for x in 0..width - 1 {
            let color = top[x];
            if top[x + 1] == color && bottom[x] == color && bottom[x + 1] == color {
                score += BLOCK_PENALTY;
            }
        }
    }
    score
}

/// Rule 3: each dark-light-dark-dark-dark-light-dark pattern with four light modules on one side
/// costs 40. Modules beyond the edge count as light, as the quiet zone is.
fn finder_penalty(line: &[bool]) -> u32 {
    let len = line.len();
    let light = |start: usize, end: usize| (start..end).all(|index| index >= len || !line[index]);
    let mut score = 0;
    for start in 0..len.saturating_sub(FINDER_CORE - 1) {
        if !is_finder_core(&line[start..start + FINDER_CORE]) {
            continue;
        }
        let before = light(start.saturating_sub(FINDER_QUIET), start);
        let end = start + FINDER_CORE;
        let after = light(end, end + FINDER_QUIET);
        if before || after {
            score += FINDER_PENALTY;
        }
    }
    score
}

/// Checks whether seven modules read dark-light-dark-dark-dark-light-dark. Most positions fail
/// on the first or second module, so the checks run in order and stop early.
fn is_finder_core(modules: &[bool]) -> bool {
    modules[0] && !modules[1] && modules[2] && modules[3] && modules[4] && !modules[5] && modules[6]
}

/// Rule 4: 10 for each full 5 % step that the share of dark modules is away from 50 %.
fn balance_penalty(modules: &[bool]) -> u32 {
    let total = modules.len().max(1);
    let dark = modules.iter().filter(|dark| **dark).count();
    // |dark / total − 1/2| in steps of 1/20, rounded down.
    let steps = (20 * dark).abs_diff(10 * total) / total;
    BALANCE_PENALTY * steps as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pattern: &str) -> Vec<bool> {
        pattern.chars().map(|module| module == '#').collect()
    }

    #[test]
    fn runs_cost_from_five() {
        assert_eq!(run_penalty(&line("####.")), 0);
        assert_eq!(run_penalty(&line("#####.")), 3);
        assert_eq!(run_penalty(&line("#######")), 5);
        assert_eq!(run_penalty(&line(".....#.....")), 6);
        assert_eq!(run_penalty(&line("#.#.#.#.#.#")), 0);
    }

    #[test]
    fn finder_patterns_need_light_side() {
        assert_eq!(finder_penalty(&line("....#.###.#")), 40);
        assert_eq!(finder_penalty(&line("#.###.#....")), 40);
        assert_eq!(finder_penalty(&line("#.###.#")), 40, "edges count as light");
        assert_eq!(finder_penalty(&line("#...#.###.#...#")), 0);
        assert_eq!(finder_penalty(&line("#.##..#....")), 0);
        assert_eq!(finder_penalty(&line("#.###.#.###.#")), 80);
    }

    #[test]
    fn blocks_overlap() {
        let two = line("####");
        let three = line("#########");
        let checker = line("#..#");

        assert_eq!(block_penalty(&two, 2), 3);
        assert_eq!(block_penalty(&three, 3), 12);
        assert_eq!(block_penalty(&checker, 2), 0);
    }

    #[test]
    fn balance_counts_whole_steps() {
        let share = |dark: usize| {
            let mut modules = vec![false; 100];
            modules[..dark].fill(true);
            balance_penalty(&modules)
        };

        assert_eq!(share(50), 0);
        assert_eq!(share(54), 0);
        assert_eq!(share(55), 10);
        assert_eq!(share(45), 10);
        assert_eq!(share(44), 10);
        assert_eq!(share(100), 100);
        assert_eq!(share(0), 100);
    }

    #[test]
    fn chosen_mask_scores_lowest() {
        let bits = qrcode::bits::encode_auto(b"https://lnk.example/AbC1234", qrcode::EcLevel::M)
            .expect("fits");
        let version = bits.version();
        let (data, ec) =
            qrcode::ec::construct_codewords(&bits.into_bytes(), version, qrcode::EcLevel::M)
                .expect("codewords");
        let mut canvas = Canvas::new(version, qrcode::EcLevel::M);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&data, &ec);
        let width = version.width() as usize;

        let chosen = apply_best_mask(&canvas, width);

        let chosen_score = penalty(&chosen, width);
        for mask in MASKS {
            let score = penalty(&masked(&canvas, mask), width);
            assert!(
                chosen_score <= score,
                "{mask:?} scores {score} < {chosen_score}"
            );
        }
    }
}
