//! Small dense linear algebra for the model-based samplers (matrices are
//! row-major `Vec<f64>`, a few hundred rows at most): Cholesky factorisation
//! and solves, the symmetric eigen-decomposition (cyclic Jacobi) and a
//! box-constrained limited-memory BFGS minimiser.

/// Lower Cholesky factor of the symmetric positive-definite `a` (n x n), or None.
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            let (ri, rj) = (&l[i * n..i * n + j], &l[j * n..j * n + j]);
            for k in 0..j {
                s -= ri[k] * rj[k];
            }
            if i == j {
                if !(s > 0.0) || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves L x = b (L lower triangular).
pub fn solve_lower(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut x = b.to_vec();
    for i in 0..n {
        let row = &l[i * n..i * n + i];
        let mut s = x[i];
        for k in 0..i {
            s -= row[k] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    x
}

/// Solves L^T x = b (L lower triangular).
pub fn solve_upper_t(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut x = b.to_vec();
    for i in (0..n).rev() {
        let mut s = x[i];
        for k in (i + 1)..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    x
}

/// Solves (L L^T) x = b.
pub fn cho_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    solve_upper_t(l, n, &solve_lower(l, n, b))
}

/// The inverse of L L^T.
pub fn cho_inverse(l: &[f64], n: usize) -> Vec<f64> {
    // Invert L (lower), then A^-1 = L^-T L^-1.
    let mut li = vec![0.0; n * n];
    for j in 0..n {
        li[j * n + j] = 1.0 / l[j * n + j];
        for i in (j + 1)..n {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i * n + k] * li[k * n + j];
            }
            li[i * n + j] = s / l[i * n + i];
        }
    }
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = 0.0;
            for k in i..n {
                s += li[k * n + i] * li[k * n + j];
            }
            inv[i * n + j] = s;
            inv[j * n + i] = s;
        }
    }
    inv
}

/// Eigen-decomposition of a symmetric matrix: (eigenvalues, eigenvectors as columns of a row-major matrix).
pub fn sym_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j] * m[i * n + j])
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = m[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let mkp = m[k * n + p];
                    let mkq = m[k * n + q];
                    m[k * n + p] = c * mkp - s * mkq;
                    m[k * n + q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let mpk = m[p * n + k];
                    let mqk = m[q * n + k];
                    m[p * n + k] = c * mpk - s * mqk;
                    m[q * n + k] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| m[i * n + i]).collect(), v)
}

/// Minimises `f` (which returns the value and writes the gradient) over the
/// box [lower, upper] by projected L-BFGS with backtracking; returns (x, f(x)).
pub fn minimize_box(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    lower: &[f64],
    upper: &[f64],
    max_iter: usize,
) -> (Vec<f64>, f64) {
    let n = x0.len();
    let proj = |x: &mut [f64]| {
        for i in 0..n {
            x[i] = x[i].clamp(lower[i], upper[i]);
        }
    };
    let mut x = x0.to_vec();
    proj(&mut x);
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    if !fx.is_finite() {
        return (x, fx);
    }
    let mem = 8;
    let mut ss: Vec<Vec<f64>> = Vec::new();
    let mut ys: Vec<Vec<f64>> = Vec::new();
    for _iter in 0..max_iter {
        // Variables held at a bound by the gradient are frozen this step.
        let free: Vec<bool> = (0..n)
            .map(|i| !((x[i] <= lower[i] && g[i] > 0.0) || (x[i] >= upper[i] && g[i] < 0.0)))
            .collect();
        let pg: Vec<f64> = (0..n).map(|i| if free[i] { g[i] } else { 0.0 }).collect();
        let pg_norm = pg.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        if pg_norm < 1e-7 {
            break;
        }
        // Two-loop recursion.
        let mut q = pg.clone();
        let k = ss.len();
        let mut alpha = vec![0.0; k];
        for j in (0..k).rev() {
            let rho = 1.0 / dot(&ys[j], &ss[j]);
            alpha[j] = rho * dot(&ss[j], &q);
            for i in 0..n {
                q[i] -= alpha[j] * ys[j][i];
            }
        }
        let gamma = if k > 0 {
            dot(&ss[k - 1], &ys[k - 1]) / dot(&ys[k - 1], &ys[k - 1])
        } else {
            1.0 / pg_norm.max(1.0)
        };
        for v in &mut q {
            *v *= gamma;
        }
        for j in 0..k {
            let rho = 1.0 / dot(&ys[j], &ss[j]);
            let beta = rho * dot(&ys[j], &q);
            for i in 0..n {
                q[i] += ss[j][i] * (alpha[j] - beta);
            }
        }
        let mut d: Vec<f64> = (0..n).map(|i| if free[i] { -q[i] } else { 0.0 }).collect();
        if dot(&d, &pg) >= 0.0 {
            d = pg.iter().map(|v| -v / pg_norm.max(1.0)).collect();
            ss.clear();
            ys.clear();
        }
        // Backtracking along the projected path.
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let mut xn: Vec<f64> = (0..n).map(|i| x[i] + t * d[i]).collect();
            proj(&mut xn);
            let mut gn = vec![0.0; n];
            let fnew = f(&xn, &mut gn);
            let decrease: f64 = (0..n).map(|i| g[i] * (xn[i] - x[i])).sum();
            if fnew.is_finite() && fnew <= fx + 1e-4 * decrease.min(0.0) && fnew <= fx {
                accepted = Some((xn, fnew, gn));
                break;
            }
            t *= 0.5;
        }
        let Some((xn, fnew, gn)) = accepted else {
            break;
        };
        let s: Vec<f64> = (0..n).map(|i| xn[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| gn[i] - g[i]).collect();
        let improvement = fx - fnew;
        x = xn;
        g = gn;
        fx = fnew;
        if dot(&s, &y) > 1e-12 {
            ss.push(s);
            ys.push(y);
            if ss.len() > mem {
                ss.remove(0);
                ys.remove(0);
            }
        }
        if improvement.abs() < 1e-10 * fx.abs().max(1.0) {
            break;
        }
    }
    (x, fx)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_and_inverts() {
        let a = vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        let x = cho_solve(&l, 3, &[1.0, 2.0, 3.0]);
        for i in 0..3 {
            let r: f64 = (0..3).map(|j| a[i * 3 + j] * x[j]).sum();
            assert!((r - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
        let inv = cho_inverse(&l, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((r - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn eigen_reconstructs() {
        let a = vec![2.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 4.0];
        let (w, v) = sym_eigen(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| v[i * 3 + k] * w[k] * v[j * 3 + k]).sum();
                assert!((r - a[i * 3 + j]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn lbfgs_finds_a_bounded_minimum() {
        // Rosenbrock inside [-2, 2] x [-2, 2]: minimum at (1, 1).
        let f = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let (x, fx) = minimize_box(f, &[-1.5, 1.5], &[-2.0, -2.0], &[2.0, 2.0], 500);
        assert!(fx < 1e-6, "{x:?} {fx}");
        // A bound binds: minimise (x - 3)^2 on [0, 1] -> 1.
        let (x, _) = minimize_box(
            |x, g| {
                g[0] = 2.0 * (x[0] - 3.0);
                (x[0] - 3.0).powi(2)
            },
            &[0.2],
            &[0.0],
            &[1.0],
            50,
        );
        assert_eq!(x, vec![1.0]);
    }
}
