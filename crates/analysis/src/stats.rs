//! Statistics for study synthesis: Beta posteriors, credible intervals, P(best), SUS, NPS.

/// ln Γ(x) for x > 0 by the Lanczos approximation (g = 7, 9 coefficients; Lanczos 1964,
/// "A Precision Approximation of the Gamma Function", SIAM J. Numer. Anal. B 1; the
/// coefficient set of Press et al., *Numerical Recipes*, 3rd ed., §6.1), with the
/// reflection formula below 0.5.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
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
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Density of Beta(a, b) at x (a, b ≥ 1 here, so it is finite on [0, 1]). `lg` holds
/// `(ln Γ(a + b), ln Γ(a), ln Γ(b))`, computed once per distribution by the caller; they
/// enter the sum in that order.
fn beta_pdf(a: f64, b: f64, lg: (f64, f64, f64), x: f64) -> f64 {
    if !(0.0..=1.0).contains(&x) {
        return 0.0;
    }
    let term = |p: f64, v: f64| if p == 1.0 { 0.0 } else { (p - 1.0) * v.ln() };
    let ln = term(a, x) + term(b, 1.0 - x) + lg.0 - lg.1 - lg.2;
    let v = ln.exp();
    if v.is_finite() { v } else { 0.0 }
}

/// Points of [`probability_best`]'s grid whose CDFs are computed together.
const LANES: usize = 4;

/// One half-step of the modified Lentz method with coefficient `aa`: updates `c` and `d` and
/// returns the factor the fraction is multiplied by (the operations of `betacf`, in order).
#[inline(always)]
fn lentz_step(aa: f64, c: &mut f64, d: &mut f64) -> f64 {
    const FPMIN: f64 = 1e-300;
    *d = 1.0 + aa * *d;
    if d.abs() < FPMIN {
        *d = FPMIN;
    }
    *c = 1.0 + aa / *c;
    if c.abs() < FPMIN {
        *c = FPMIN;
    }
    *d = 1.0 / *d;
    *d * *c
}

/// Continued fraction of the incomplete beta function, modified Lentz method
/// (Press et al., *Numerical Recipes*, 3rd ed., §6.4, `betacf`), for [`LANES`] arguments at
/// once. Each lane goes through exactly the operations of the one-argument loop in the same
/// order, so it gives the same bits (the tests keep that loop and compare); the lanes are
/// independent, so their chains of divisions overlap in the processor instead of each
/// waiting for the last. Lanes that are not `active` are left at 0.
fn beta_cf_lanes(a: [f64; LANES], b: [f64; LANES], x: [f64; LANES], active: [bool; LANES]) -> [f64; LANES] {
    const FPMIN: f64 = 1e-300;
    let mut c = [1.0; LANES];
    let mut d = [0.0; LANES];
    let mut h = [0.0; LANES];
    let mut done = active.map(|on| !on);
    for l in (0..LANES).filter(|&l| active[l]) {
        let (qab, qap) = (a[l] + b[l], a[l] + 1.0);
        let mut dl = 1.0 - qab * x[l] / qap;
        if dl.abs() < FPMIN {
            dl = FPMIN;
        }
        dl = 1.0 / dl;
        d[l] = dl;
        h[l] = dl;
    }
    for m in 1..10_000 {
        if done.iter().all(|&x| x) {
            break;
        }
        let m = f64::from(m);
        let m2 = 2.0 * m;
        for l in 0..LANES {
            if done[l] {
                continue;
            }
            let (a, b, x) = (a[l], b[l], x[l]);
            let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
            let (mut c1, mut d1) = (c[l], d[l]);
            h[l] *= lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), &mut c1, &mut d1);
            let del = lentz_step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), &mut c1, &mut d1);
            h[l] *= del;
            (c[l], d[l]) = (c1, d1);
            if (del - 1.0).abs() < 1e-15 {
                done[l] = true;
            }
        }
    }
    h
}

/// Regularised incomplete beta `I_x(a, b)`, the CDF of Beta(a, b) at x (Press et al.,
/// *Numerical Recipes*, 3rd ed., §6.4, `betai`), at the points `x` whose lane is `active`
/// (others are 0), each by the operations of the one-point `betai`. `lg` is as in
/// [`beta_pdf`].
fn beta_cdf_lanes(
    a: f64,
    b: f64,
    lg: (f64, f64, f64),
    x: [f64; LANES],
    active: [bool; LANES],
) -> [f64; LANES] {
    let mut out = [0.0; LANES];
    let mut on = [false; LANES];
    let (mut ca, mut cb, mut cx, mut bt, mut lower) =
        ([0.0; LANES], [0.0; LANES], [0.0; LANES], [0.0; LANES], [false; LANES]);
    for l in (0..LANES).filter(|&l| active[l]) {
        let x = x[l];
        if x <= 0.0 {
            out[l] = 0.0;
        } else if x >= 1.0 {
            out[l] = 1.0;
        } else {
            let ln_bt = lg.0 - lg.1 - lg.2 + a * x.ln() + b * (1.0 - x).ln();
            bt[l] = ln_bt.exp();
            lower[l] = x < (a + 1.0) / (a + b + 2.0);
            (ca[l], cb[l], cx[l]) = if lower[l] { (a, b, x) } else { (b, a, 1.0 - x) };
            on[l] = true;
        }
    }
    let cf = beta_cf_lanes(ca, cb, cx, on);
    for l in (0..LANES).filter(|&l| on[l]) {
        let v = if lower[l] { bt[l] * cf[l] / a } else { 1.0 - bt[l] * cf[l] / b };
        out[l] = v.clamp(0.0, 1.0);
    }
    out
}

/// Quantiles of Beta(a, b) at the two probabilities `p` by bisection on the CDF (monotone,
/// so 60 halvings give about 1e-18 of width). The two bisections run side by side: each
/// midpoint goes through the same operations as in a bisection of its own, so the results
/// are the same bits, while the two CDF evaluations of a step overlap.
fn beta_quantile_pair(a: f64, b: f64, p: [f64; 2]) -> [f64; 2] {
    let lg = (ln_gamma(a + b), ln_gamma(a), ln_gamma(b));
    let (mut lo, mut hi) = ([0.0f64; 2], [1.0f64; 2]);
    let on = [true, true, false, false];
    for _ in 0..60 {
        let mid = [0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])];
        let cdf = beta_cdf_lanes(a, b, lg, [mid[0], mid[1], 0.0, 0.0], on);
        for l in 0..2 {
            if cdf[l] < p[l] {
                lo[l] = mid[l];
            } else {
                hi[l] = mid[l];
            }
        }
    }
    [0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])]
}

/// Posterior mean `(1 + s) / (2 + s + f)` of a success rate under the uniform prior
/// Beta(1, 1) (Bayes–Laplace; Gelman et al., *Bayesian Data Analysis*, 3rd ed., §2.1–2.4).
pub fn beta_posterior_mean(successes: u32, failures: u32) -> f64 {
    (1.0 + f64::from(successes)) / (2.0 + f64::from(successes) + f64::from(failures))
}

/// 95 % equal-tailed credible interval of Beta(1 + s, 1 + f): its 2.5 % and 97.5 %
/// quantiles (Gelman et al., *Bayesian Data Analysis*, 3rd ed., §2.3; for binomial
/// proportions see Brown, Cai & DasGupta 2001, "Interval Estimation for a Binomial
/// Proportion", Statistical Science 16(2), whose Jeffreys interval is the same
/// construction with a Beta(½, ½) prior).
pub fn beta_credible_interval(successes: u32, failures: u32) -> [f64; 2] {
    let a = 1.0 + f64::from(successes);
    let b = 1.0 + f64::from(failures);
    beta_quantile_pair(a, b, [0.025, 0.975])
}

/// Intervals of the composite Simpson rule used by [`probability_best`].
const SIMPSON_INTERVALS: usize = 2_000;

/// P(variant i has the highest success rate) for independent Beta(1 + sᵢ, 1 + fᵢ)
/// posteriors: `∫ pᵢ(x) Πⱼ≠ᵢ Fⱼ(x) dx` (the exact expression, e.g. Chapelle & Li 2011,
/// "An Empirical Evaluation of Thompson Sampling", NIPS; Evan Miller 2015, "Formulas for
/// Bayesian A/B Testing"), evaluated by the composite Simpson rule with 2,000 intervals
/// over the range holding all but 1e-12 of every posterior, then normalised to sum to 1.
/// No random numbers are involved, so the result is the same on every run.
pub fn probability_best(counts: &[(u32, u32)]) -> Vec<f64> {
    let n = counts.len();
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![1.0];
    }
    let params: Vec<(f64, f64)> =
        counts.iter().map(|&(s, f)| (1.0 + f64::from(s), 1.0 + f64::from(f))).collect();
    let tails: Vec<[f64; 2]> =
        params.iter().map(|&(a, b)| beta_quantile_pair(a, b, [1e-12, 1.0 - 1e-12])).collect();
    let lo = tails.iter().map(|t| t[0]).fold(1.0, f64::min);
    let hi = tails.iter().map(|t| t[1]).fold(0.0, f64::max);
    let m = SIMPSON_INTERVALS;
    let h = (hi - lo).max(0.0) / m as f64;
    let mut sums = vec![0.0; n];
    if h > 0.0 {
        // ln Γ of each distribution once, not at every point (the same values either way).
        let lg: Vec<(f64, f64, f64)> =
            params.iter().map(|&(a, b)| (ln_gamma(a + b), ln_gamma(a), ln_gamma(b))).collect();
        let mut cdf = vec![[0.0; LANES]; n];
        let mut pdf = vec![[0.0; LANES]; n];
        // The grid points `LANES` at a time; the sums are still added in point order.
        for k0 in (0..=m).step_by(LANES) {
            let mut xs = [0.0; LANES];
            let mut on = [false; LANES];
            for l in (0..LANES).filter(|&l| k0 + l <= m) {
                xs[l] = lo + h * (k0 + l) as f64;
                on[l] = true;
            }
            for (j, &(a, b)) in params.iter().enumerate() {
                cdf[j] = beta_cdf_lanes(a, b, lg[j], xs, on);
                for l in (0..LANES).filter(|&l| on[l]) {
                    pdf[j][l] = beta_pdf(a, b, lg[j], xs[l]);
                }
            }
            for l in (0..LANES).filter(|&l| on[l]) {
                let k = k0 + l;
                let w = if k == 0 || k == m {
                    1.0
                } else if k % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                for i in 0..n {
                    let mut v = pdf[i][l];
                    for (j, c) in cdf.iter().enumerate() {
                        if j != i {
                            v *= c[l];
                        }
                    }
                    sums[i] += w * v;
                }
            }
        }
    }
    let total: f64 = sums.iter().sum();
    if total > 0.0 && total.is_finite() {
        sums.iter().map(|v| v / total).collect()
    } else {
        vec![1.0 / n as f64; n]
    }
}

/// System Usability Scale: odd items contribute `x − 1`, even items `5 − x`, the sum is
/// multiplied by 2.5 (Brooke 1996, "SUS: a 'quick and dirty' usability scale", in
/// *Usability Evaluation in Industry*). `None` unless there are ten answers in 1..5.
pub(crate) fn sus_score(answers: &[f64]) -> Option<f64> {
    if answers.len() != 10 || answers.iter().any(|x| !x.is_finite() || !(1.0..=5.0).contains(x)) {
        return None;
    }
    let sum: f64 = answers.iter().enumerate().map(|(i, &x)| if i % 2 == 0 { x - 1.0 } else { 5.0 - x }).sum();
    Some(sum * 2.5)
}

/// Net Promoter Score: % promoters (9–10) − % detractors (0–6) (Reichheld 2003, "The One
/// Number You Need to Grow", Harvard Business Review 81(12)). Returns
/// (score, promoters, passives, detractors) over answers in 0..10.
pub(crate) fn nps(answers: &[f64]) -> (Option<f64>, usize, usize, usize) {
    let valid: Vec<f64> =
        answers.iter().copied().filter(|x| x.is_finite() && (0.0..=10.0).contains(x)).collect();
    let promoters = valid.iter().filter(|&&x| x >= 9.0).count();
    let detractors = valid.iter().filter(|&&x| x <= 6.0).count();
    let passives = valid.len() - promoters - detractors;
    let score =
        (!valid.is_empty()).then(|| 100.0 * (promoters as f64 - detractors as f64) / valid.len() as f64);
    (score, promoters, passives, detractors)
}

/// Geometric mean of positive values, `exp(mean(ln x))` — the recommended average of
/// task times, whose distribution is skewed (Sauro & Lewis 2010, "Average Task Times in
/// Usability Tests: What to Report?", CHI 2010).
pub(crate) fn geometric_mean(values: &[f64]) -> Option<f64> {
    let logs: Vec<f64> = values.iter().filter(|v| v.is_finite() && **v > 0.0).map(|v| v.ln()).collect();
    (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
}

/// Lostness `L = √((N/S − 1)² + (R/N − 1)²)` with N unique pages visited, S page visits
/// and R the minimum number of pages needed (Smith 1996, "Towards a practical measure of
/// hypertext usability", Interacting with Computers 8(4)).
pub(crate) fn lostness(unique: usize, visits: usize, shortest: usize) -> Option<f64> {
    if unique == 0 || visits == 0 {
        return None;
    }
    let (n, s, r) = (unique as f64, visits as f64, shortest as f64);
    Some(((n / s - 1.0).powi(2) + (r / n - 1.0).powi(2)).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() < eps
    }

    fn beta_cdf(a: f64, b: f64, x: f64) -> f64 {
        beta_cdf_lanes(a, b, (ln_gamma(a + b), ln_gamma(a), ln_gamma(b)), [x; LANES], [true; LANES])[0]
    }

    fn beta_quantile(a: f64, b: f64, p: f64) -> f64 {
        beta_quantile_pair(a, b, [p, p])[0]
    }

    // The one-point functions as they were before the lanes: the reference the lanes must
    // match bit for bit (written out in full on purpose, sharing no code with what they check).

    /// Continued fraction of the incomplete beta function, modified Lentz method
    /// (Press et al., *Numerical Recipes*, 3rd ed., §6.4, `betacf`).
    fn reference_beta_cf(a: f64, b: f64, x: f64) -> f64 {
        const FPMIN: f64 = 1e-300;
        let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
        let mut c = 1.0;
        let mut d = 1.0 - qab * x / qap;
        if d.abs() < FPMIN {
            d = FPMIN;
        }
        d = 1.0 / d;
        let mut h = d;
        for m in 1..10_000 {
            let m = f64::from(m);
            let m2 = 2.0 * m;
            let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1.0 + aa * d;
            if d.abs() < FPMIN {
                d = FPMIN;
            }
            c = 1.0 + aa / c;
            if c.abs() < FPMIN {
                c = FPMIN;
            }
            d = 1.0 / d;
            h *= d * c;
            let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1.0 + aa * d;
            if d.abs() < FPMIN {
                d = FPMIN;
            }
            c = 1.0 + aa / c;
            if c.abs() < FPMIN {
                c = FPMIN;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        h
    }

    /// Regularised incomplete beta `I_x(a, b)`, the CDF of Beta(a, b) at x
    /// (Press et al., *Numerical Recipes*, 3rd ed., §6.4, `betai`).
    fn reference_beta_cdf(a: f64, b: f64, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if x >= 1.0 {
            return 1.0;
        }
        let ln_bt = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
        let bt = ln_bt.exp();
        let v = if x < (a + 1.0) / (a + b + 2.0) {
            bt * reference_beta_cf(a, b, x) / a
        } else {
            1.0 - bt * reference_beta_cf(b, a, 1.0 - x) / b
        };
        v.clamp(0.0, 1.0)
    }

    /// Quantile of Beta(a, b) by bisection on the CDF (monotone, so 60 halvings give
    /// about 1e-18 of width).
    fn reference_beta_quantile(a: f64, b: f64, p: f64) -> f64 {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if reference_beta_cdf(a, b, mid) < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    #[test]
    fn gamma_and_beta() {
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-12));
        assert!(close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-12));
        // Beta(1,1) is uniform; Beta(2,1) has CDF x².
        assert!(close(beta_cdf(1.0, 1.0, 0.3), 0.3, 1e-12));
        assert!(close(beta_cdf(2.0, 1.0, 0.5), 0.25, 1e-12));
        assert!(close(beta_quantile(2.0, 1.0, 0.25), 0.5, 1e-9));
        // Beta(9, 3) (8 of 10 successes): 95 % interval ≈ [0.4822, 0.9398] (R qbeta).
        let ci = beta_credible_interval(8, 2);
        assert!(close(ci[0], 0.4822, 1e-3) && close(ci[1], 0.9398, 1e-3), "{ci:?}");
        assert!(close(beta_posterior_mean(8, 2), 0.75, 1e-12));
    }

    #[test]
    fn prob_best() {
        let p = probability_best(&[(5, 5), (5, 5)]);
        assert!(close(p[0], 0.5, 1e-6));
        // P(Beta(2,1) > Beta(1,2)) = 5/6... for two variants: ∫ 2x · (2x − x²) dx = 5/6.
        let p = probability_best(&[(1, 0), (0, 1)]);
        assert!(close(p[0], 5.0 / 6.0, 1e-6), "{p:?}");
        let p = probability_best(&[(900, 100), (880, 120), (10, 0)]);
        assert!(close(p.iter().sum::<f64>(), 1.0, 1e-9));
    }

    /// [`probability_best`] as it was written before the grid points were taken
    /// [`LANES`] at a time: one point and one [`beta_cdf`] at a time.
    fn probability_best_one_point_at_a_time(counts: &[(u32, u32)]) -> Vec<f64> {
        let n = counts.len();
        let params: Vec<(f64, f64)> =
            counts.iter().map(|&(s, f)| (1.0 + f64::from(s), 1.0 + f64::from(f))).collect();
        let pdf_of = |a: f64, b: f64, x: f64| {
            if !(0.0..=1.0).contains(&x) {
                return 0.0;
            }
            let term = |p: f64, v: f64| if p == 1.0 { 0.0 } else { (p - 1.0) * v.ln() };
            let ln = term(a, x) + term(b, 1.0 - x) + ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b);
            let v = ln.exp();
            if v.is_finite() { v } else { 0.0 }
        };
        let lo = params.iter().map(|&(a, b)| reference_beta_quantile(a, b, 1e-12)).fold(1.0, f64::min);
        let hi = params.iter().map(|&(a, b)| reference_beta_quantile(a, b, 1.0 - 1e-12)).fold(0.0, f64::max);
        let m = SIMPSON_INTERVALS;
        let h = (hi - lo).max(0.0) / m as f64;
        let mut sums = vec![0.0; n];
        if h > 0.0 {
            let mut cdf = vec![0.0; n];
            let mut pdf = vec![0.0; n];
            for k in 0..=m {
                let x = lo + h * k as f64;
                for (j, &(a, b)) in params.iter().enumerate() {
                    cdf[j] = reference_beta_cdf(a, b, x);
                    pdf[j] = pdf_of(a, b, x);
                }
                let w = if k == 0 || k == m {
                    1.0
                } else if k % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                for i in 0..n {
                    let mut v = pdf[i];
                    for (j, c) in cdf.iter().enumerate() {
                        if j != i {
                            v *= c;
                        }
                    }
                    sums[i] += w * v;
                }
            }
        }
        let total: f64 = sums.iter().sum();
        if total > 0.0 && total.is_finite() {
            sums.iter().map(|v| v / total).collect()
        } else {
            vec![1.0 / n as f64; n]
        }
    }

    #[test]
    fn lanes_give_the_same_bits() {
        for (a, b) in
            [(1.0, 1.0), (2.0, 1.0), (1.0, 2.0), (9.0, 3.0), (119.0, 133.0), (1001.0, 2.0), (0.5, 0.5)]
        {
            let lg = (ln_gamma(a + b), ln_gamma(a), ln_gamma(b));
            let xs: Vec<f64> =
                (-3..=1003).map(|i| f64::from(i) / 1000.0).chain([1e-300, 1.0 - 1e-16]).collect();
            for chunk in xs.chunks(LANES) {
                let mut x = [0.0; LANES];
                let mut on = [false; LANES];
                for (l, &v) in chunk.iter().enumerate() {
                    x[l] = v;
                    on[l] = l % 3 != 2 || chunk.len() < LANES;
                }
                let got = beta_cdf_lanes(a, b, lg, x, on);
                for l in 0..LANES {
                    let want = if on[l] { reference_beta_cdf(a, b, x[l]) } else { 0.0 };
                    assert_eq!(got[l].to_bits(), want.to_bits(), "a {a} b {b} x {}", x[l]);
                }
            }
        }
        for (a, b) in [(1.0, 1.0), (2.0, 1.0), (9.0, 3.0), (119.0, 133.0), (1001.0, 2.0), (3.0, 700.0)] {
            for p in [[0.025, 0.975], [1e-12, 1.0 - 1e-12], [0.5, 0.0], [1.0, 0.3]] {
                let got = beta_quantile_pair(a, b, p);
                for l in 0..2 {
                    assert_eq!(
                        got[l].to_bits(),
                        reference_beta_quantile(a, b, p[l]).to_bits(),
                        "a {a} b {b} p {}",
                        p[l]
                    );
                }
            }
        }
        for (succ, fail) in [(0, 0), (1, 0), (0, 1), (8, 2), (20, 30), (118, 132), (250, 0), (3, 997)] {
            let (a, b) = (1.0 + f64::from(succ), 1.0 + f64::from(fail));
            let want = [reference_beta_quantile(a, b, 0.025), reference_beta_quantile(a, b, 0.975)];
            let got = beta_credible_interval(succ, fail);
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{succ} {fail}");
        }
        for counts in [
            vec![(5, 5), (5, 5)],
            vec![(1, 0), (0, 1)],
            vec![(118, 132), (130, 120)],
            vec![(900, 100), (880, 120), (10, 0)],
            vec![(0, 0), (3, 0), (0, 3), (7, 2)],
            vec![(40, 2), (0, 0)],
        ] {
            let got = probability_best(&counts);
            let want = probability_best_one_point_at_a_time(&counts);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{counts:?}");
        }
    }

    #[test]
    fn sus_nps_lostness() {
        assert_eq!(sus_score(&[5.0, 1.0, 5.0, 1.0, 5.0, 1.0, 5.0, 1.0, 5.0, 1.0]), Some(100.0));
        assert_eq!(sus_score(&[3.0; 10]), Some(50.0));
        assert_eq!(sus_score(&[3.0; 9]), None);
        assert_eq!(nps(&[10.0, 9.0, 7.0, 3.0]).0, Some(25.0));
        assert_eq!(lostness(3, 3, 3), Some(0.0));
        assert!(lostness(4, 8, 2).is_some_and(|l| close(l, (0.25f64 + 0.25).sqrt(), 1e-12)));
        assert!(close(geometric_mean(&[1.0, 100.0]).unwrap_or(0.0), 10.0, 1e-9));
    }
}
