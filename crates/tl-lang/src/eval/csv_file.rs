//! Comma-separated numbers as a tensor: a matrix of rows × columns, or one column picked
//! by its header name.

/// A parsed CSV file: an optional header row and the numeric rows.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvTable {
    pub header: Option<Vec<String>>,
    pub rows: Vec<Vec<f32>>,
}

/// Parses `text`. A first row with a field that is not a number is the header; every
/// other row must hold numbers, all rows the same count.
pub fn read_csv(text: &str) -> Result<CsvTable, String> {
    let mut header: Option<Vec<String>> = None;
    let mut rows: Vec<Vec<f32>> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Result<Vec<f32>, _> = fields.iter().map(|f| f.parse::<f32>()).collect();
        match parsed {
            Ok(values) => {
                if let Some(first) = rows.first() {
                    if first.len() != values.len() {
                        return Err(format!(
                            "line {} has {} fields but earlier rows have {}",
                            number + 1,
                            values.len(),
                            first.len()
                        ));
                    }
                }
                rows.push(values);
            }
            Err(_) if header.is_none() && rows.is_empty() => {
                header = Some(
                    fields
                        .iter()
                        .map(|f| f.trim_matches('"').to_string())
                        .collect(),
                );
            }
            Err(_) => {
                let bad = fields.iter().find(|f| f.parse::<f32>().is_err()).copied();
                return Err(format!(
                    "line {}: `{}` is not a number",
                    number + 1,
                    bad.unwrap_or("")
                ));
            }
        }
    }
    if let (Some(names), Some(first)) = (&header, rows.first()) {
        if names.len() != first.len() {
            return Err(format!(
                "the header names {} columns but the rows have {}",
                names.len(),
                first.len()
            ));
        }
    }
    Ok(CsvTable { header, rows })
}

impl CsvTable {
    /// The whole table (`[rows, columns]`), or the column called `name` (`[rows]`).
    pub fn tensor_data(&self, name: Option<&str>) -> Result<(Vec<usize>, Vec<f32>), String> {
        let columns = self.rows.first().map_or(0, Vec::len);
        match name {
            None => Ok((
                vec![self.rows.len(), columns],
                self.rows.iter().flatten().copied().collect(),
            )),
            Some(name) => {
                let names = self.header.as_ref().ok_or("the file has no header row")?;
                let column = names
                    .iter()
                    .position(|n| n == name)
                    .ok_or_else(|| format!("no column `{name}` (columns: {})", names.join(", ")))?;
                Ok((
                    vec![self.rows.len()],
                    self.rows.iter().map(|r| r[column]).collect(),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_columns() {
        let table = read_csv("a, b\n1, 2\n3, 4.5\n").expect("parses");
        assert_eq!(
            table.tensor_data(None).expect("whole"),
            (vec![2, 2], vec![1.0, 2.0, 3.0, 4.5])
        );
        assert_eq!(
            table.tensor_data(Some("b")).expect("column"),
            (vec![2], vec![2.0, 4.5])
        );
        assert!(table.tensor_data(Some("c")).is_err());
    }

    #[test]
    fn ragged_rows_are_errors() {
        assert!(read_csv("1,2\n3\n").is_err());
        assert!(read_csv("1,2\nx,3\n").is_err());
    }
}
