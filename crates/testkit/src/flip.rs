//! Camera → screen latency from a picture that flips colour: the RTSP test
//! server's `/flip` mount turns white and black in turn and says when each new
//! colour left its source; a page notes when the picture it shows changes
//! colour. This pairs the two lists.
//!
//! Pictures carry no identity, so a change is paired by order, not by
//! nearness: a viewer that falls further and further behind (latency growing
//! past the flip period) is still measured right.

/// A colour the flip picture takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    White,
    Black,
}

impl Colour {
    pub fn parse(s: &str) -> Option<Colour> {
        match s {
            "white" => Some(Colour::White),
            "black" => Some(Colour::Black),
            _ => None,
        }
    }
}

/// The flips in the server's output: lines `FLIP <unix ms> <white|black>`.
pub fn flips(said: &[String]) -> Vec<(f64, Colour)> {
    said.iter()
        .filter_map(|l| {
            let mut f = l.strip_prefix("FLIP ")?.split_whitespace();
            Some((f.next()?.parse().ok()?, Colour::parse(f.next()?)?))
        })
        .collect()
}

/// Latencies, ms, of each change the page saw (`changes`: times and colours
/// on the same clock as `flips`; the first entry is the colour the picture had
/// when it first appeared). The picture is black before the first flip, so the
/// first picture's colour says whether it came before the first flip or after
/// it, provided it appeared before the second: from there, the n-th change
/// belongs to the n-th flip that followed.
pub fn latencies(flips: &[(f64, Colour)], changes: &[(f64, Colour)]) -> Result<Vec<f64>, String> {
    let (&(first_seen, first_colour), changes) = changes
        .split_first()
        .ok_or("the page never showed the picture")?;
    let Some(&(second_flip, _)) = flips.get(1) else {
        return Err(format!("only {} flips", flips.len()));
    };
    if first_seen >= second_flip {
        return Err("the picture first appeared after the second flip: \
                    cannot tell which flip a change belongs to"
            .into());
    }
    let skip = match first_colour {
        Colour::Black => 0,
        Colour::White => 1,
    };
    let mut out = Vec::with_capacity(changes.len());
    for (i, &(seen, colour)) in changes.iter().enumerate() {
        let Some(&(flipped, to)) = flips.get(skip + i) else {
            return Err(format!("change {} has no flip", i + 1));
        };
        if to != colour || seen < flipped {
            return Err(format!(
                "change {} ({colour:?} at {seen}) does not follow flip {} ({to:?} at {flipped})",
                i + 1,
                skip + i + 1
            ));
        }
        out.push(seen - flipped);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::Colour::{Black, White};
    use super::*;

    fn said(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn reads_the_servers_flips_and_nothing_else() {
        let f = flips(&said(&[
            "FLIP 1000.5 white",
            "noise",
            "FLIP 2000 black",
            "FLIP x white",
        ]));
        assert_eq!(f, vec![(1000.5, White), (2000.0, Black)]);
    }

    #[test]
    fn pairs_by_order_even_when_latency_grows_past_the_period() {
        let flips = [
            (1000.0, White),
            (2000.0, Black),
            (3000.0, White),
            (4000.0, Black),
        ];
        // First seen black before the first flip; then ever later.
        let seen = [
            (500.0, Black),
            (1100.0, White),
            (2600.0, Black),
            (4200.0, White),
        ];
        assert_eq!(latencies(&flips, &seen), Ok(vec![100.0, 600.0, 1200.0]));
    }

    #[test]
    fn a_first_picture_after_the_first_flip_starts_at_the_second() {
        let flips = [(1000.0, White), (2000.0, Black), (3000.0, White)];
        let seen = [(1500.0, White), (2050.0, Black), (3040.0, White)];
        assert_eq!(latencies(&flips, &seen), Ok(vec![50.0, 40.0]));
    }

    #[test]
    fn refuses_what_it_cannot_pair() {
        let flips = [(1000.0, White), (2000.0, Black)];
        // Appeared after the second flip: ambiguous.
        assert!(latencies(&flips, &[(2500.0, Black), (3100.0, White)]).is_err());
        // A change before its flip: the lists do not belong together.
        assert!(latencies(&flips, &[(500.0, Black), (900.0, White)]).is_err());
        // More changes than flips.
        assert!(latencies(
            &flips,
            &[
                (500.0, Black),
                (1100.0, White),
                (2100.0, Black),
                (2200.0, White)
            ]
        )
        .is_err());
        assert!(latencies(&flips, &[]).is_err());
    }
}
