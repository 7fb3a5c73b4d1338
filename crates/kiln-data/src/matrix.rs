//! `Matrix`: the dense numeric training matrix learners take.
//!
//! Column-major `f32` (one contiguous slice per feature), which LightGBM reads
//! without a copy and which halves the memory of `f64`. Missing values are NaN.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    n_rows: usize,
    names: Vec<String>,
    /// Column-major: column `j` is `data[j * n_rows .. (j + 1) * n_rows]`.
    data: Vec<f32>,
}

impl Matrix {
    /// A matrix from column-major data; `data.len()` must be `n_rows * names.len()`.
    pub fn from_col_major(n_rows: usize, names: Vec<String>, data: Vec<f32>) -> Result<Matrix> {
        if data.len() != n_rows * names.len() {
            return Err(DataError::msg(format!(
                "matrix data has {} values, expected {n_rows} rows x {} columns",
                data.len(),
                names.len()
            )));
        }
        Ok(Matrix { n_rows, names, data })
    }

    /// A matrix from columns of equal length.
    pub fn from_columns(names: Vec<String>, columns: Vec<Vec<f32>>) -> Result<Matrix> {
        if names.len() != columns.len() {
            return Err(DataError::msg(format!(
                "{} column names for {} columns",
                names.len(),
                columns.len()
            )));
        }
        let n_rows = columns.first().map_or(0, |c| c.len());
        if let Some((j, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != n_rows) {
            return Err(DataError::msg(format!(
                "column '{}' has {} rows, expected {n_rows}",
                names[j],
                c.len()
            )));
        }
        let mut data = Vec::with_capacity(n_rows * columns.len());
        for c in &columns {
            data.extend_from_slice(c);
        }
        Ok(Matrix { n_rows, names, data })
    }

    /// A matrix from rows (row-major input, e.g. a scoring request).
    pub fn from_rows(names: Vec<String>, rows: &[Vec<f32>]) -> Result<Matrix> {
        let n_cols = names.len();
        let n_rows = rows.len();
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != n_cols) {
            return Err(DataError::msg(format!(
                "row {i} has {} values, expected {n_cols}",
                r.len()
            )));
        }
        let mut data = vec![0.0f32; n_rows * n_cols];
        for (i, r) in rows.iter().enumerate() {
            for (j, v) in r.iter().enumerate() {
                data[j * n_rows + i] = *v;
            }
        }
        Ok(Matrix { n_rows, names, data })
    }

    /// An all-zero matrix to be filled column by column with [`Matrix::column_mut`].
    pub fn zeros(n_rows: usize, names: Vec<String>) -> Matrix {
        let data = vec![0.0f32; n_rows * names.len()];
        Matrix { n_rows, names, data }
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn n_cols(&self) -> usize {
        self.names.len()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The whole column-major buffer.
    pub fn as_col_major(&self) -> &[f32] {
        &self.data
    }

    pub fn column(&self, j: usize) -> &[f32] {
        &self.data[j * self.n_rows..(j + 1) * self.n_rows]
    }

    pub fn column_mut(&mut self, j: usize) -> &mut [f32] {
        &mut self.data[j * self.n_rows..(j + 1) * self.n_rows]
    }

    /// Mutable access to every column at once (to fill them in parallel).
    pub fn columns_mut(&mut self) -> Vec<&mut [f32]> {
        if self.n_rows == 0 {
            return (0..self.names.len()).map(|_| &mut [][..]).collect();
        }
        self.data.chunks_mut(self.n_rows).collect()
    }

    pub fn get(&self, row: usize, col: usize) -> f32 {
        self.data[col * self.n_rows + row]
    }

    /// Copies row `i` into `out` (length `n_cols`).
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        for (j, o) in out.iter_mut().enumerate().take(self.names.len()) {
            *o = self.data[j * self.n_rows + i];
        }
    }

    /// The matrix in row-major order (for APIs that want rows).
    pub fn to_row_major(&self) -> Vec<f32> {
        let n_cols = self.n_cols();
        let mut out = vec![0.0f32; self.data.len()];
        for j in 0..n_cols {
            let col = self.column(j);
            for (i, v) in col.iter().enumerate() {
                out[i * n_cols + j] = *v;
            }
        }
        out
    }

    /// The rows at `indices`, in that order.
    pub fn take_rows(&self, indices: &[usize]) -> Matrix {
        let n = indices.len();
        let mut data = Vec::with_capacity(n * self.n_cols());
        for j in 0..self.n_cols() {
            let col = self.column(j);
            data.extend(indices.iter().map(|&i| col[i]));
        }
        Matrix {
            n_rows: n,
            names: self.names.clone(),
            data,
        }
    }

    /// The named columns, in that order.
    pub fn select(&self, names: &[&str]) -> Result<Matrix> {
        let mut data = Vec::with_capacity(self.n_rows * names.len());
        for n in names {
            let j = self
                .names
                .iter()
                .position(|x| x == n)
                .ok_or_else(|| DataError::msg(format!("no feature '{n}' in the matrix")))?;
            data.extend_from_slice(self.column(j));
        }
        Ok(Matrix {
            n_rows: self.n_rows,
            names: names.iter().map(|s| s.to_string()).collect(),
            data,
        })
    }

    /// Bytes held by the values.
    pub fn size_bytes(&self) -> usize {
        self.data.len() * std::mem::size_of::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_agree() {
        let names = vec!["a".to_string(), "b".to_string()];
        let m = Matrix::from_rows(names.clone(), &[vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]).unwrap();
        assert_eq!(m.column(0), &[1.0, 3.0, 5.0]);
        assert_eq!(m.column(1), &[2.0, 4.0, 6.0]);
        assert_eq!(m.to_row_major(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let c = Matrix::from_columns(names.clone(), vec![vec![1.0, 3.0, 5.0], vec![2.0, 4.0, 6.0]]).unwrap();
        assert_eq!(m, c);
        let t = m.take_rows(&[2, 0]);
        assert_eq!(t.to_row_major(), vec![5.0, 6.0, 1.0, 2.0]);
        let mut r = [0.0; 2];
        m.row_into(1, &mut r);
        assert_eq!(r, [3.0, 4.0]);
        assert!(Matrix::from_columns(names.clone(), vec![vec![1.0], vec![]]).is_err());
        assert!(Matrix::from_col_major(2, names, vec![1.0; 3]).is_err());
        assert_eq!(m.select(&["b"]).unwrap().column(0), &[2.0, 4.0, 6.0]);
    }
}
