//! Multi-objective helpers: dominance, non-dominated sorting and crowding
//! distance, on values in minimisation form.

use crate::trial::Direction;

/// Values in minimisation form.
pub fn to_min(directions: &[Direction], values: &[f64]) -> Vec<f64> {
    directions.iter().zip(values).map(|(d, v)| d.to_min(*v)).collect()
}

/// Whether `a` dominates `b` (no worse everywhere, better somewhere).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        if x < y {
            better = true;
        }
    }
    better
}

/// Fronts of the fast non-dominated sort: `fronts[0]` is the Pareto front (indices into `points`).
pub fn nondominated_fronts(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut count = vec![0usize; n];
    for i in 0..n {
        for j in (i + 1)..n {
            if dominates(&points[i], &points[j]) {
                dominated_by[i].push(j);
                count[j] += 1;
            } else if dominates(&points[j], &points[i]) {
                dominated_by[j].push(i);
                count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominated_by[i] {
                count[j] -= 1;
                if count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distance of each member of one front (infinite at the extremes).
pub fn crowding_distance(points: &[Vec<f64>], front: &[usize]) -> Vec<f64> {
    let m = front.len();
    let mut dist = vec![0.0; m];
    if m <= 2 {
        return vec![f64::INFINITY; m];
    }
    let n_obj = points[front[0]].len();
    for k in 0..n_obj {
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| points[front[a]][k].total_cmp(&points[front[b]][k]));
        let lo = points[front[order[0]]][k];
        let hi = points[front[order[m - 1]]][k];
        dist[order[0]] = f64::INFINITY;
        dist[order[m - 1]] = f64::INFINITY;
        if hi > lo {
            for w in 1..m - 1 {
                let gap = points[front[order[w + 1]]][k] - points[front[order[w - 1]]][k];
                dist[order[w]] += gap / (hi - lo);
            }
        }
    }
    dist
}

/// Indices of the `k` best points: whole fronts first, the last front cut by crowding distance.
pub fn select_best(points: &[Vec<f64>], k: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(k);
    for front in nondominated_fronts(points) {
        if out.len() + front.len() <= k {
            out.extend_from_slice(&front);
        } else {
            let cd = crowding_distance(points, &front);
            let mut order: Vec<usize> = (0..front.len()).collect();
            order.sort_by(|&a, &b| cd[b].total_cmp(&cd[a]).then(a.cmp(&b)));
            for &o in order.iter().take(k - out.len()) {
                out.push(front[o]);
            }
        }
        if out.len() >= k {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fronts_and_crowding() {
        let pts = vec![
            vec![1.0, 4.0],
            vec![2.0, 2.0],
            vec![4.0, 1.0],
            vec![3.0, 3.0],
            vec![5.0, 5.0],
        ];
        let f = nondominated_fronts(&pts);
        assert_eq!(f, vec![vec![0, 1, 2], vec![3], vec![4]]);
        let cd = crowding_distance(&pts, &f[0]);
        assert!(cd[0].is_infinite() && cd[2].is_infinite() && cd[1].is_finite());
        assert_eq!(select_best(&pts, 4), vec![0, 1, 2, 3]);
        assert!(dominates(&[1.0, 1.0], &[1.0, 2.0]));
        assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0]));
    }
}
