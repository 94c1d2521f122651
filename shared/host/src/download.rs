//! How a file leaves the portal: the `Content-Disposition` of a download
//! (RFC 6266 with an RFC 5987 `filename*`, so Czech names arrive intact, and
//! an ASCII fallback with the Czech and Slovak diacritics folded away for
//! browsers that only read `filename`).

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`
/// (RFC 6266 §4.3, RFC 5987 §3.2): browsers that know `filename*` show the
/// real name (`Výpis z rejstříku.pdf`); older ones show the fallback with the
/// Czech diacritics removed (`Vypis z rejstriku.pdf`), quotes and backslashes
/// as `_`, any other non-ASCII letter as `_` and control characters dropped,
/// so no file name can break the header.
pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii() => c,
            c => fold(c).unwrap_or('_'),
        })
        .collect();
    let mut encoded = String::with_capacity(file_name.len() * 3);
    for byte in file_name.bytes() {
        // RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Czech and Slovak letters without their diacritics.
fn fold(c: char) -> Option<char> {
    let plain = match c {
        'á' | 'ä' => 'a',
        'Á' | 'Ä' => 'A',
        'č' => 'c',
        'Č' => 'C',
        'ď' => 'd',
        'Ď' => 'D',
        'é' | 'ě' => 'e',
        'É' | 'Ě' => 'E',
        'í' => 'i',
        'Í' => 'I',
        'ĺ' | 'ľ' => 'l',
        'Ĺ' | 'Ľ' => 'L',
        'ň' => 'n',
        'Ň' => 'N',
        'ó' | 'ô' | 'ö' => 'o',
        'Ó' | 'Ô' | 'Ö' => 'O',
        'ř' | 'ŕ' => 'r',
        'Ř' | 'Ŕ' => 'R',
        'š' => 's',
        'Š' => 'S',
        'ť' => 't',
        'Ť' => 'T',
        'ú' | 'ů' | 'ü' => 'u',
        'Ú' | 'Ů' | 'Ü' => 'U',
        'ý' => 'y',
        'Ý' => 'Y',
        'ž' => 'z',
        'Ž' => 'Z',
        _ => return None,
    };
    Some(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn czech_file_names_survive_in_filename_star_and_fold_in_the_fallback() {
        assert_eq!(
            content_disposition("Výpis z rejstříku trestů.pdf"),
            "attachment; filename=\"Vypis z rejstriku trestu.pdf\"; \
             filename*=UTF-8''V%C3%BDpis%20z%20rejst%C5%99%C3%ADku%20trest%C5%AF.pdf"
        );
        assert_eq!(
            content_disposition("ŽLUŤOUČKÝ kůň.txt"),
            "attachment; filename=\"ZLUTOUCKY kun.txt\"; \
             filename*=UTF-8''%C5%BDLU%C5%A4OU%C4%8CK%C3%9D%20k%C5%AF%C5%88.txt"
        );
        assert_eq!(
            content_disposition("Podpisy \"přechod\".pdf"),
            "attachment; filename=\"Podpisy _prechod_.pdf\"; filename*=UTF-8''Podpisy%20%22p%C5%99echod%22.pdf"
        );
        assert_eq!(
            content_disposition("Žádost – mapa.pdf"),
            "attachment; filename=\"Zadost _ mapa.pdf\"; filename*=UTF-8''%C5%BD%C3%A1dost%20%E2%80%93%20mapa.pdf"
        );
    }

    #[test]
    fn quotes_backslashes_and_foreign_letters_cannot_break_the_header() {
        let header = content_disposition("a\"b\\c;d 日本.pdf");
        assert_eq!(
            header,
            "attachment; filename=\"a_b_c;d __.pdf\"; filename*=UTF-8''a%22b%5Cc%3Bd%20%E6%97%A5%E6%9C%AC.pdf"
        );
        assert!(axum::http::HeaderValue::from_str(&header).is_ok(), "a valid header value");
        assert!(content_disposition("x\r\nSet-Cookie: a=b").starts_with("attachment; filename=\"xSet-Cookie: a=b\""));
    }
}
