//! The statistics behind the deploy gate: a one-sided two-proportion z-test and an exact
//! conditional test of two Poisson rates. Pure functions, no dependencies.

/// Standard normal upper tail, `P(Z ≥ z)`.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Chebyshev fit, fractional error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// One-sided test that proportion `x2/n2` exceeds `x1/n1` (pooled z-test). Returns
/// `(z, p)`; `p = 1` when there is nothing to compare.
pub fn two_proportion_greater(x1: i64, n1: i64, x2: i64, n2: i64) -> (f64, f64) {
    if n1 <= 0 || n2 <= 0 {
        return (0.0, 1.0);
    }
    let (x1, n1, x2, n2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let pooled = (x1 + x2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return (0.0, 1.0);
    }
    let z = (x2 / n2 - x1 / n1) / se;
    (z, normal_sf(z))
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos approximation (g = 7, n = 9).
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// `P(X ≥ k)` for `X ~ Binomial(n, p)`, exact (summed in log space from `k` upwards).
pub fn binomial_sf(k: i64, n: i64, p: f64) -> f64 {
    if k <= 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (nf, kf) = (n as f64, k as f64);
    let log_pmf = ln_gamma(nf + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(nf - kf + 1.0)
        + kf * p.ln()
        + (nf - kf) * (1.0 - p).ln();
    let mut term = log_pmf.exp();
    let mut total = term;
    let odds = p / (1.0 - p);
    let mut i = k;
    while i < n {
        term *= (n - i) as f64 / (i + 1) as f64 * odds;
        total += term;
        i += 1;
        if term < total * 1e-15 && (i as f64) > nf * p {
            break;
        }
    }
    total.min(1.0)
}

/// Exact one-sided test that rate `k2/e2` exceeds `k1/e1` (counts over exposures, e.g.
/// events over sessions): conditional on `k1 + k2`, `k2` is binomial under equal rates.
/// Returns `(ratio, p)`; the ratio is infinite when `k1` is 0 and `k2` is not.
pub fn poisson_rate_greater(k1: i64, e1: f64, k2: i64, e2: f64) -> (f64, f64) {
    if e1 <= 0.0 || e2 <= 0.0 {
        return (f64::NAN, 1.0);
    }
    let ratio = if k1 == 0 {
        if k2 == 0 { 1.0 } else { f64::INFINITY }
    } else {
        (k2 as f64 / e2) / (k1 as f64 / e1)
    };
    let p = binomial_sf(k2, k1 + k2, e2 / (e1 + e2));
    (ratio, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tail_matches_tables() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_sf(1.644_853_6) - 0.05).abs() < 1e-6);
        assert!((normal_sf(2.326_347_9) - 0.01).abs() < 1e-6);
        assert!((normal_sf(-1.959_964) - 0.975).abs() < 1e-6);
    }

    #[test]
    fn binomial_tail_is_exact() {
        // P(X ≥ 8 | n = 10, p = 0.5) = 56 / 1024.
        assert!((binomial_sf(8, 10, 0.5) - 56.0 / 1024.0).abs() < 1e-9);
        assert_eq!(binomial_sf(0, 10, 0.3), 1.0);
        assert_eq!(binomial_sf(11, 10, 0.3), 0.0);
        // Large n stays finite and sensible.
        let p = binomial_sf(5_200, 10_000, 0.5);
        assert!(p > 0.0 && p < 1e-4, "{p}");
    }

    #[test]
    fn rate_test() {
        let (ratio, p) = poisson_rate_greater(100, 1000.0, 300, 1000.0);
        assert!((ratio - 3.0).abs() < 1e-9);
        assert!(p < 1e-20);
        let (_, p) = poisson_rate_greater(100, 1000.0, 100, 1000.0);
        assert!(p > 0.4);
    }

    #[test]
    fn proportion_test() {
        let (z, p) = two_proportion_greater(20, 1000, 60, 1000);
        assert!(z > 4.0 && p < 1e-4);
        assert_eq!(two_proportion_greater(0, 0, 1, 1).1, 1.0);
    }
}
