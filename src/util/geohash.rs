//! Redis's geohash arithmetic, bit for bit: a position is a 52-bit cell code (26 bits of latitude
//! and 26 of longitude, interleaved) within the Web Mercator limits, which is the sorted-set
//! score GEOADD stores. A radius or box search covers its area with a cell and its 8 neighbours
//! at a step (precision) estimated from the radius, and filters candidates by haversine
//! distance on a sphere of Redis's Earth radius. Same operations in the same order as Redis, so
//! the floating-point results — and which points fall inside a search — are the same.

use std::f64::consts::PI;

/// Lowest longitude.
pub const LONG_MIN: f64 = -180.0;
/// Highest longitude.
pub const LONG_MAX: f64 = 180.0;
/// Lowest latitude Web Mercator (EPSG:900913) can map, so the lowest Redis stores.
pub const LAT_MIN: f64 = -85.05112878;
/// Highest latitude Redis stores.
pub const LAT_MAX: f64 = 85.05112878;
/// The precision of stored positions: 26 bits per coordinate.
pub const STEP_MAX: u8 = 26;

const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = PI / 180.0;

fn deg_rad(angle: f64) -> f64 {
    angle * D_R
}

fn rad_deg(angle: f64) -> f64 {
    angle / D_R
}

/// A geohash cell: `step` bits of each coordinate, interleaved (latitude in the even bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

#[derive(Debug, Clone, Copy, Default)]
struct Range {
    min: f64,
    max: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Area {
    lon: Range,
    lat: Range,
}

const WGS84: (Range, Range) = (
    Range {
        min: LONG_MIN,
        max: LONG_MAX,
    },
    Range {
        min: LAT_MIN,
        max: LAT_MAX,
    },
);

/// Spreads the low 32 bits of `x` over the even bit positions and `y` over the odd ones.
fn interleave(x: u32, y: u32) -> u64 {
    fn spread(v: u32) -> u64 {
        let mut v = v as u64;
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    }
    spread(x) | (spread(y) << 1)
}

/// Undoes [`interleave`]: (even bits, odd bits).
fn deinterleave(bits: u64) -> (u32, u32) {
    fn squeeze(v: u64) -> u32 {
        let mut v = v & 0x5555_5555_5555_5555;
        v = (v | (v >> 1)) & 0x3333_3333_3333_3333;
        v = (v | (v >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v >> 16)) & 0x0000_0000_FFFF_FFFF;
        v as u32
    }
    (squeeze(bits), squeeze(bits >> 1))
}

/// The cell of `step` bits holding a position, in the given coordinate ranges; `None` outside
/// the Mercator limits or the ranges.
fn encode_in(lon: f64, lat: f64, step: u8, (lon_r, lat_r): (Range, Range)) -> Option<Cell> {
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Cell {
        bits: interleave(lat_offset as u32, lon_offset as u32),
        step,
    })
}

/// The cell of `step` bits holding a position (`None` outside the Mercator limits).
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode_in(lon, lat, step, WGS84)
}

/// The rectangle a cell covers.
fn decode_area(cell: Cell) -> Area {
    let (lon_r, lat_r) = WGS84;
    let (ilat, ilon) = deinterleave(cell.bits);
    let scale = (1u64 << cell.step) as f64;
    let at = |r: Range, i: u32| r.min + (i as f64 / scale) * (r.max - r.min);
    Area {
        lat: Range {
            min: at(lat_r, ilat),
            max: at(lat_r, ilat.wrapping_add(1)),
        },
        lon: Range {
            min: at(lon_r, ilon),
            max: at(lon_r, ilon.wrapping_add(1)),
        },
    }
}

impl Cell {
    /// The cell as a 52-bit score prefix.
    pub fn align52(self) -> u64 {
        self.bits << (52 - self.step as u32 * 2)
    }

    /// The half-open score interval `[min, max)` of every stored position inside this cell.
    pub fn score_range(self) -> (u64, u64) {
        let next = Cell {
            bits: self.bits.wrapping_add(1),
            step: self.step,
        };
        (self.align52(), next.align52())
    }

    /// Moves the cell by `dx` columns (longitude) and `dy` rows (latitude), wrapping around.
    fn moved(self, dx: i8, dy: i8) -> Cell {
        let shift = 64 - self.step as u32 * 2;
        let step_along = |bits: u64, lane: u64, d: i8| -> u64 {
            if d == 0 {
                return bits & lane;
            }
            let mut v = bits & lane;
            let other = !lane >> shift;
            if d > 0 {
                v = v.wrapping_add(other.wrapping_add(1));
            } else {
                v |= other;
                v = v.wrapping_sub(other.wrapping_add(1));
            }
            v & (lane >> shift)
        };
        const ODD: u64 = 0xAAAA_AAAA_AAAA_AAAA;
        const EVEN: u64 = 0x5555_5555_5555_5555;
        let x = step_along(self.bits, ODD, dx);
        let y = step_along(self.bits, EVEN, dy);
        Cell {
            bits: x | y,
            step: self.step,
        }
    }
}

/// The centre of the cell a score encodes (Redis's `decodeGeohash`): any score decodes, clamped
/// to the limits. Returns (longitude, latitude).
pub fn decode_score(score: f64) -> (f64, f64) {
    let area = decode_area(Cell {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    });
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// C's `(uint64_t)double` as x86-64 compilers emit it (a signed truncation, with values at or
/// past 2^63 shifted first), so scores that are not geohashes decode as they do in Redis.
fn c_double_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let truncate = |v: f64| -> i64 {
        if v.is_nan() || !(-TWO_63..TWO_63).contains(&v) {
            i64::MIN
        } else {
            v as i64
        }
    };
    if d.is_nan() || d < TWO_63 {
        truncate(d) as u64
    } else {
        (truncate(d - TWO_63) as u64) ^ (1 << 63)
    }
}

/// The standard 11-character geohash of a stored score (GEOHASH): the position re-encoded with
/// latitude in ±90, the last character always `0` (there are only 52 bits).
pub fn geohash_string(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let ranges = (
        Range {
            min: -180.0,
            max: 180.0,
        },
        Range {
            min: -90.0,
            max: 90.0,
        },
    );
    let bits = encode_in(lon, lat, STEP_MAX, ranges).map_or(0, |c| c.bits);
    (0..11)
        .map(|i| {
            let idx = if i == 10 {
                0
            } else {
                (bits >> (52 - (i + 1) * 5)) & 0x1f
            };
            ALPHABET[idx as usize] as char
        })
        .collect()
}

/// Great-circle distance in meters (haversine).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lat1r = deg_rad(lat1);
    let lon1r = deg_rad(lon1);
    let lat2r = deg_rad(lat2);
    let lon2r = deg_rad(lon2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS_IN_METERS * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

/// The cell step whose cells are about as big as the search radius (smaller near the poles).
fn estimate_steps(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut range = range_meters;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// What a search covers.
#[derive(Debug, Clone, Copy)]
pub enum Reach {
    /// BYRADIUS / GEORADIUS: a circle of this radius (in the unit).
    Radius(f64),
    /// BYBOX: width and height (in the unit).
    Box { width: f64, height: f64 },
}

/// A search: centre, area, and the unit's size in meters.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    pub area: Reach,
    /// Meters per unit (1 for m, 1000 for km ...).
    pub conversion: f64,
}

impl Shape {
    /// (min lon, min lat, max lon, max lat) around the centre, wider on the pole side.
    fn bounding_box(&self) -> [f64; 4] {
        let (h, w) = match self.area {
            Reach::Radius(r) => (r, r),
            Reach::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let height = self.conversion * h;
        let width = self.conversion * w;
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat - lat_delta).cos());
        let long_delta = if self.lat < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            self.lon - long_delta,
            self.lat - lat_delta,
            self.lon + long_delta,
            self.lat + lat_delta,
        ]
    }

    /// The cells to scan, in Redis's order: centre, north, south, east, west, north-east,
    /// north-west, south-east, south-west; `None` for neighbours the area cannot reach.
    pub fn cells(&self) -> [Option<Cell>; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius_meters = match self.area {
            Reach::Radius(r) => r,
            Reach::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius_meters, self.lat);
        // The centre is validated by the caller, so it always encodes.
        let cell_at = |steps: u8| {
            encode(self.lon, self.lat, steps).unwrap_or(Cell {
                bits: 0,
                step: steps,
            })
        };
        let mut center = cell_at(steps);
        let north = decode_area(center.moved(0, 1));
        let south = decode_area(center.moved(0, -1));
        let east = decode_area(center.moved(1, 0));
        let west = decode_area(center.moved(-1, 0));
        // Near the edge of the centre cell a neighbour may be too thin: use bigger cells.
        let decrease = north.lat.max < max_lat
            || south.lat.min > min_lat
            || east.lon.max < max_lon
            || west.lon.min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            center = cell_at(steps);
        }
        let area = decode_area(center);
        let mut cells = [
            Some(center),
            Some(center.moved(0, 1)),
            Some(center.moved(0, -1)),
            Some(center.moved(1, 0)),
            Some(center.moved(-1, 0)),
            Some(center.moved(1, 1)),
            Some(center.moved(-1, 1)),
            Some(center.moved(1, -1)),
            Some(center.moved(-1, -1)),
        ];
        const NORTH: [usize; 3] = [1, 5, 6];
        const SOUTH: [usize; 3] = [2, 7, 8];
        const EAST: [usize; 3] = [3, 5, 7];
        const WEST: [usize; 3] = [4, 6, 8];
        if steps >= 2 {
            let mut drop = |which: [usize; 3]| which.iter().for_each(|&i| cells[i] = None);
            if area.lat.min < min_lat {
                drop(SOUTH);
            }
            if area.lat.max > max_lat {
                drop(NORTH);
            }
            if area.lon.min < min_lon {
                drop(WEST);
            }
            if area.lon.max > max_lon {
                drop(EAST);
            }
        }
        cells
    }

    /// The distance in meters from the centre to a point inside the area; `None` outside.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.area {
            Reach::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            Reach::Box { width, height } => {
                let lon_distance = distance(lon, lat, self.lon, lat);
                let lat_distance = distance(lon, lat, lon, self.lat);
                if lon_distance > width * self.conversion / 2.0
                    || lat_distance > height * self.conversion / 2.0
                {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ff_ffff, 0x155_5555),
            (u32::MAX, 7),
        ] {
            assert_eq!(deinterleave(interleave(x, y)), (x, y));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
    }

    #[test]
    fn palermo_encodes_like_redis() {
        // GEOADD Sicily 13.361389 38.115556 Palermo stores score 3479099956230698.
        let cell = encode(13.361389, 38.115556, STEP_MAX).unwrap();
        assert_eq!(cell.align52(), 3479099956230698);
        let (lon, lat) = decode_score(3479099956230698.0);
        assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
        assert_eq!(geohash_string(3479099956230698.0), "sqc8b49rny0");
        assert!(encode(0.0, 86.0, STEP_MAX).is_none());
    }

    #[test]
    fn neighbours_wrap_around() {
        let cell = Cell { bits: 0, step: 2 };
        assert_eq!(cell.moved(-1, 0).moved(1, 0), cell);
        assert_eq!(cell.moved(0, -1).moved(0, 1), cell);
        assert_ne!(cell.moved(1, 1), cell);
    }

    #[test]
    fn distances_use_redis_earth_radius() {
        // GEODIST Sicily Palermo Catania = 166274.1516 m in Redis's documentation.
        let (plon, plat) = decode_score(3479099956230698.0);
        let (clon, clat) = decode_score(3479447370796909.0);
        let d = distance(plon, plat, clon, clat);
        assert!((d - 166274.1516).abs() < 1e-4, "{d}");
    }

    #[test]
    fn casts_like_c() {
        assert_eq!(c_double_to_u64(1.0), 1);
        assert_eq!(c_double_to_u64(-1.0), u64::MAX);
        assert_eq!(c_double_to_u64(1e19), 10_000_000_000_000_000_000);
        assert_eq!(c_double_to_u64(f64::NEG_INFINITY), 1 << 63);
    }
}
