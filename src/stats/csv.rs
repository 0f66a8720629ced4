//! A table as CSV, in the two dialects people open: Italian Excel's (UTF-8 with BOM, `;`,
//! decimal comma) and RFC 4180's (`,`, no BOM, decimal point). Every cell passes through
//! [`csv_cell`], as in every CSV ascolto writes, so a label an administrator typed (a service's
//! name) never runs as a formula.

use crate::export::csv_cell;

use super::Table;

/// Which CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// What Italian Excel opens with a double click: UTF-8 with BOM, `;`, decimal comma.
    Excel,
    /// RFC 4180: `,`, no BOM, decimal point (for scripts and other spreadsheets).
    Rfc4180,
}

pub fn write(t: &Table, dialect: Dialect) -> Result<Vec<u8>, ::csv::Error> {
    let mut out = Vec::new();
    if dialect == Dialect::Excel {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    {
        let mut w = ::csv::WriterBuilder::new()
            .delimiter(match dialect {
                Dialect::Excel => b';',
                Dialect::Rfc4180 => b',',
            })
            .from_writer(&mut out);
        w.write_record(t.header.iter().map(|c| csv_cell(c).into_owned()))?;
        for row in &t.rows {
            w.write_record(row.iter().map(|c| cell(c, dialect)))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// A figure of the tables ("12,5") with a decimal point for RFC 4180 readers, which expect one.
fn cell(c: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Excel => csv_cell(c).into_owned(),
        Dialect::Rfc4180 => {
            if c.parse::<f64>().is_err() && c.replace(',', ".").parse::<f64>().is_ok() {
                csv_cell(&c.replace(',', ".")).into_owned()
            } else {
                csv_cell(c).into_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_neutralise_formulas_and_write_their_decimals() {
        let t = Table {
            name: "servizi",
            title: "Per servizio",
            header: vec!["Servizio".into(), "Numero".into(), "%".into()],
            rows: vec![vec!["=HYPERLINK(\"x\")".into(), "-3".into(), "12,5".into()]],
        };
        let excel = String::from_utf8(write(&t, Dialect::Excel).unwrap()).unwrap();
        assert_eq!(
            excel,
            "\u{feff}Servizio;Numero;%\n\"'=HYPERLINK(\"\"x\"\")\";-3;12,5\n"
        );
        let rfc = String::from_utf8(write(&t, Dialect::Rfc4180).unwrap()).unwrap();
        assert_eq!(
            rfc,
            "Servizio,Numero,%\n\"'=HYPERLINK(\"\"x\"\")\",-3,12.5\n"
        );
    }
}
