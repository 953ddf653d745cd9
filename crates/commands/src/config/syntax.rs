//! The config file's syntax, Redis's own: a line splits into words as
//! `sdssplitargs` splits it (double quotes with C escapes and `\xHH`,
//! single quotes with `\'`, a closing quote must end the word; the same
//! code splits inline requests), values are
//! written back quoted as `sdscatrepr` quotes them ([`resp::repr`]), and the command line
//! becomes config lines as `redis-server`'s `main` builds them.

/// Splits `line` into words as Redis's `sdssplitargs` (the parser of
/// inline requests, [`resp::split_args`]); `None` when a quote is not closed
/// or a closing quote is followed by more of the same word.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    resp::split_args(line).map(|args| args.iter().map(<[u8]>::to_vec).collect())
}

/// Trims what Redis's `sdstrim(line, " \t\r\n")` trims.
pub fn trim_line(line: &[u8]) -> &[u8] {
    let blank = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|c| !blank(c)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|c| !blank(c))
        .map_or(start, |i| i + 1);
    &line[start..end.max(start)]
}

/// Turns command-line arguments (after the config file, if any) into config
/// lines, as `redis-server` does: `--name` starts a line, the arguments
/// after it are its values, each quoted. An argument that starts with `--`
/// right after a name without a value is that name's value
/// (`--requirepass --secret`); a name given together with its value in one
/// argument (`"--port 7000"`) needs none. `--save` with no value means
/// `save ""`.
pub fn command_line_lines(args: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut text: Vec<u8> = Vec::new();
    let mut value_given = true;
    for (j, arg) in args.iter().enumerate() {
        if value_given && arg.starts_with(b"--") {
            if !text.is_empty() {
                text.push(b'\n');
            }
            text.extend_from_slice(&arg[2..]);
            text.push(b' ');
            let words = split_args(arg).map_or(0, |w| w.len());
            if words == 1 {
                value_given = false;
                let is_save = arg.eq_ignore_ascii_case(b"--save");
                let next_is_option = args.get(j + 1).is_some_and(|a| a.starts_with(b"--"));
                if is_save && (next_is_option || j + 1 == args.len()) {
                    text.extend_from_slice(b"\"\"");
                    value_given = next_is_option;
                }
            } else {
                value_given = true;
            }
        } else {
            resp::repr(arg, &mut text);
            text.push(b' ');
            value_given = true;
        }
    }
    if text.is_empty() {
        return Vec::new();
    }
    text.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|words| {
            words
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect()
        })
    }

    #[test]
    fn words_quotes_and_escapes() {
        assert_eq!(
            split("  port   6379 "),
            Some(vec!["port".into(), "6379".into()])
        );
        assert_eq!(split(""), Some(vec![]));
        assert_eq!(
            split(r#"requirepass "a\x41\n\t\"b\\\q" 'it\'s' x"y""#),
            Some(vec![
                "requirepass".into(),
                "aA\n\t\"b\\q".into(),
                "it's".into(),
                "xy".into()
            ])
        );
        assert_eq!(split(r#""\b\a\r""#), Some(vec!["\x08\x07\r".into()]));
        // \x needs two hex digits; otherwise the backslash escapes the x.
        assert_eq!(split(r#""\x4g""#), Some(vec!["x4g".into()]));
        assert_eq!(split(r#"'a\nb'"#), Some(vec!["a\\nb".into()]));
        assert_eq!(split(r#""" ''"#), Some(vec!["".into(), "".into()]));
        assert_eq!(
            split("a#b # c"),
            Some(vec!["a#b".into(), "#".into(), "c".into()])
        );
    }

    #[test]
    fn unbalanced_quotes() {
        for bad in [
            r#"port "12"#,
            r#"timeout "1"x"#,
            r#"x"y"z"#,
            "a 'b",
            "a 'b'c",
            r#""\"#,
        ] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }

    #[test]
    fn repr_reads_back() {
        let value = b"a\"b\\c\n\r\t\x07\x08\x01\xff z".to_vec();
        let mut quoted = Vec::new();
        resp::repr(&value, &mut quoted);
        assert_eq!(quoted, b"\"a\\\"b\\\\c\\n\\r\\t\\a\\b\\x01\\xff z\"");
        assert_eq!(split_args(&quoted), Some(vec![value]));
    }

    #[test]
    fn trims_as_sdstrim() {
        assert_eq!(trim_line(b" \t port 1 \r\n"), b"port 1");
        assert_eq!(trim_line(b" \t\r\n"), b"");
    }

    #[test]
    fn command_line_as_redis_server() {
        let lines = |args: &[&str]| {
            let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
            command_line_lines(&args)
                .into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(&[
                "--port",
                "7000",
                "--bind",
                "127.0.0.1",
                "::1",
                "--loglevel",
                "warning"
            ]),
            [
                "port \"7000\" ",
                "bind \"127.0.0.1\" \"::1\" ",
                "loglevel \"warning\" "
            ]
        );
        assert_eq!(
            lines(&["--requirepass", "--x\"y"]),
            ["requirepass \"--x\\\"y\" "]
        );
        assert_eq!(
            lines(&["--port 7000", "--timeout", "-1"]),
            ["port 7000 ", "timeout \"-1\" "]
        );
        assert_eq!(
            lines(&["--save", "--port", "1"]),
            ["save \"\"", "port \"1\" "]
        );
        assert_eq!(
            lines(&["--port", "1", "--save"]),
            ["port \"1\" ", "save \"\""]
        );
        assert_eq!(lines(&["--port"]), ["port "]);
        assert_eq!(lines(&["x"]), ["\"x\" "]);
        assert!(lines(&[]).is_empty());
    }
}
