//! Which key each request touches: a seeded generator and the key patterns users ask for.
//!
//! The generator is our own SplitMix64 rather than a `rand` RNG so that `--seed` gives the same
//! key sequence whatever version of `rand` the binary was built with: published numbers must be
//! reproducible with one command, months later.

use std::str::FromStr;

/// A tiny, fast, seedable generator (SplitMix64). Quality is ample for load generation.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift: no division, negligible bias for our `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// How keys are drawn from `0..keyspace`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyPattern {
    /// Each connection walks its own slice of the key space in order (good for preloading).
    Sequential,
    /// Every key equally likely.
    Uniform,
    /// Normal around the middle of the key space; the field is the standard deviation as a
    /// fraction of the key space (a "hot middle").
    Gaussian { stddev: f64 },
    /// Zipf's law over key ranks: key 0 is the hottest, the frequency of rank `k` is `1/k^s`.
    Zipf { exponent: f64 },
}

impl std::fmt::Display for KeyPattern {
    /// The same spelling [`FromStr`] reads, so reports can be replayed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyPattern::Sequential => write!(f, "sequential"),
            KeyPattern::Uniform => write!(f, "uniform"),
            KeyPattern::Gaussian { stddev } => write!(f, "gaussian:{stddev}"),
            KeyPattern::Zipf { exponent } => write!(f, "zipf:{exponent}"),
        }
    }
}

impl FromStr for KeyPattern {
    type Err = String;

    /// `sequential`, `uniform`, `gaussian[:STDDEV_FRACTION]` or `zipf[:EXPONENT]`.
    fn from_str(text: &str) -> Result<KeyPattern, String> {
        let (name, param) = match text.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (text, None),
        };
        let number = |default: f64| -> Result<f64, String> {
            match param {
                None => Ok(default),
                Some(p) => p
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| {
                        format!("'{p}' in key pattern '{text}' is not a positive number")
                    }),
            }
        };
        match name.to_ascii_lowercase().as_str() {
            "sequential" | "seq" if param.is_none() => Ok(KeyPattern::Sequential),
            "uniform" | "random" if param.is_none() => Ok(KeyPattern::Uniform),
            "gaussian" | "gauss" => Ok(KeyPattern::Gaussian { stddev: number(0.125)? }),
            "zipf" | "zipfian" => Ok(KeyPattern::Zipf { exponent: number(0.99)? }),
            _ => Err(format!(
                "unknown key pattern '{text}' (sequential, uniform, gaussian[:STDDEV], zipf[:EXPONENT])"
            )),
        }
    }
}

/// Draws key numbers for one connection.
#[derive(Debug, Clone)]
pub struct KeyGen {
    pattern: KeyPattern,
    keyspace: u64,
    /// Next key for [`KeyPattern::Sequential`].
    cursor: u64,
    zipf: Option<Zipf>,
}

impl KeyGen {
    /// A generator over `0..keyspace`; `start` is where a sequential walk begins, so that
    /// connections cover disjoint slices.
    pub fn new(pattern: KeyPattern, keyspace: u64, start: u64) -> KeyGen {
        let keyspace = keyspace.max(1);
        let zipf = match pattern {
            KeyPattern::Zipf { exponent } => Some(Zipf::new(keyspace, exponent)),
            _ => None,
        };
        KeyGen {
            pattern,
            keyspace,
            cursor: start % keyspace,
            zipf,
        }
    }

    /// The next key number.
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        match self.pattern {
            KeyPattern::Sequential => {
                let key = self.cursor;
                self.cursor = if key + 1 == self.keyspace { 0 } else { key + 1 };
                key
            }
            KeyPattern::Uniform => rng.below(self.keyspace),
            KeyPattern::Gaussian { stddev } => self.gaussian(rng, stddev),
            KeyPattern::Zipf { .. } => match &self.zipf {
                Some(z) => z.sample(rng) - 1,
                None => rng.below(self.keyspace),
            },
        }
    }

    fn gaussian(&self, rng: &mut Rng, stddev: f64) -> u64 {
        let n = self.keyspace as f64;
        // Redraw the rare samples that fall outside the key space rather than clamping them,
        // which would pile probability onto the first and last key.
        for _ in 0..64 {
            // Box–Muller; 1 - unit() is in (0, 1], so the logarithm is finite.
            let radius = (-2.0 * (1.0 - rng.unit()).ln()).sqrt();
            let z = radius * (std::f64::consts::TAU * rng.unit()).cos();
            let x = n / 2.0 + z * stddev * n;
            if x >= 0.0 && x < n {
                return x as u64;
            }
        }
        self.keyspace / 2
    }
}

/// Zipf sampling over ranks `1..=n` by rejection-inversion (Hörmann and Derflinger, 1996):
/// constant time and memory per draw whatever the key space, where a table of the cumulative
/// distribution would cost 8 bytes per key.
#[derive(Debug, Clone)]
struct Zipf {
    n: f64,
    exponent: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    squeeze: f64,
}

impl Zipf {
    fn new(n: u64, exponent: f64) -> Zipf {
        let mut z = Zipf {
            n: n as f64,
            exponent,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            squeeze: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(z.n + 0.5);
        z.squeeze = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.unit() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.squeeze || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    /// The unnormalised density `x^-s`.
    fn h(&self, x: f64) -> f64 {
        (-self.exponent * x.ln()).exp()
    }

    /// An antiderivative of `h`, written so that `s = 1` (the logarithm) needs no special case.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        expm1_over_x((1.0 - self.exponent) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.exponent)).max(-1.0);
        (ln1p_over_x(t) * x).exp()
    }
}

/// `ln(1+x)/x`, continuous at 0.
fn ln1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1)/x`, continuous at 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pattern: KeyPattern, keyspace: u64, draws: usize) -> Vec<u64> {
        let mut rng = Rng::new(42);
        let mut gen = KeyGen::new(pattern, keyspace, 0);
        let mut counts = vec![0u64; keyspace as usize];
        for _ in 0..draws {
            let k = gen.next(&mut rng);
            assert!(k < keyspace, "{pattern:?} drew {k}");
            counts[k as usize] += 1;
        }
        counts
    }

    #[test]
    fn parses_patterns() {
        assert_eq!("seq".parse(), Ok(KeyPattern::Sequential));
        assert_eq!("uniform".parse(), Ok(KeyPattern::Uniform));
        assert_eq!("zipf".parse(), Ok(KeyPattern::Zipf { exponent: 0.99 }));
        assert_eq!("zipf:1.2".parse(), Ok(KeyPattern::Zipf { exponent: 1.2 }));
        assert_eq!(
            "gaussian:0.05".parse(),
            Ok(KeyPattern::Gaussian { stddev: 0.05 })
        );
        assert!("zipf:-1".parse::<KeyPattern>().is_err());
        assert!("uniform:3".parse::<KeyPattern>().is_err());
        assert!("hot".parse::<KeyPattern>().is_err());
        for p in ["sequential", "uniform", "gaussian:0.2", "zipf:1.1"] {
            assert_eq!(
                p.parse::<KeyPattern>().map(|k| k.to_string()),
                Ok(p.to_string())
            );
        }
    }

    #[test]
    fn same_seed_same_keys() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            let mut gen = KeyGen::new(KeyPattern::Zipf { exponent: 0.9 }, 1000, 0);
            (0..100).map(|_| gen.next(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn sequential_walks_and_wraps() {
        let mut rng = Rng::new(1);
        let mut gen = KeyGen::new(KeyPattern::Sequential, 5, 3);
        let keys: Vec<u64> = (0..7).map(|_| gen.next(&mut rng)).collect();
        assert_eq!(keys, [3, 4, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn uniform_passes_chi_square() {
        let c = counts(KeyPattern::Uniform, 20, 200_000);
        let expected = 10_000.0;
        let chi2: f64 = c
            .iter()
            .map(|&o| (o as f64 - expected).powi(2) / expected)
            .sum();
        // 19 degrees of freedom: the 99.9th percentile of chi-square is about 43.8.
        assert!(chi2 < 43.8, "chi-square {chi2} for {c:?}");
    }

    #[test]
    fn gaussian_has_the_asked_mean_and_spread() {
        let c = counts(KeyPattern::Gaussian { stddev: 0.1 }, 1000, 100_000);
        let n: f64 = c.iter().sum::<u64>() as f64;
        let mean = c
            .iter()
            .enumerate()
            .map(|(k, &o)| k as f64 * o as f64)
            .sum::<f64>()
            / n;
        let var = c
            .iter()
            .enumerate()
            .map(|(k, &o)| (k as f64 - mean).powi(2) * o as f64)
            .sum::<f64>()
            / n;
        assert!((mean - 500.0).abs() < 3.0, "mean {mean}");
        assert!((var.sqrt() - 100.0).abs() < 3.0, "stddev {}", var.sqrt());
    }

    #[test]
    fn zipf_follows_the_power_law() {
        for s in [0.8, 1.0, 1.3] {
            let draws = 400_000;
            let c = counts(KeyPattern::Zipf { exponent: s }, 1000, draws);
            let harmonic: f64 = (1..=1000).map(|k| (k as f64).powf(-s)).sum();
            for rank in [1usize, 2, 10, 100] {
                let expected = draws as f64 * (rank as f64).powf(-s) / harmonic;
                let observed = c[rank - 1] as f64;
                // Five standard deviations of a binomial count.
                let tolerance = 5.0 * expected.sqrt() + 1.0;
                assert!(
                    (observed - expected).abs() < tolerance,
                    "s={s} rank {rank}: observed {observed}, expected {expected:.0}"
                );
            }
        }
    }
}
