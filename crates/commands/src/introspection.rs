//! COMMAND, COMMAND COUNT, COMMAND INFO and COMMAND DOCS, answered from the
//! command table and Redis's captured metadata.

use crate::client::subcommand;
use crate::error::reply_error;
use crate::table::{captured_docs, lookup, sub, CapturedDocs, SubcommandSpec};
use crate::{Client, CommandError, ServerFacts, TABLE};
use resp::{Args, Protocol, ReplyEncoder};

/// COMMAND's subcommands (those Mayfly has), their arities and flags.
pub(crate) const SUBCOMMANDS: &[SubcommandSpec] =
    &[sub("count", 2), sub("info", -2), sub("docs", -2)];

/// COMMAND [COUNT | INFO [name ...] | DOCS [name ...]]
pub(crate) fn command(args: &Args, _: &mut Client, _: &ServerFacts, enc: &mut ReplyEncoder) {
    if let Err(e) = run(args, enc) {
        reply_error(enc, &e);
    }
}

fn run(args: &Args, enc: &mut ReplyEncoder) -> Result<(), CommandError> {
    let resp3 = enc.protocol() == Protocol::Resp3;
    let info = |d: &CapturedDocs| if resp3 { d.info_resp3 } else { d.info_resp2 };
    if args.len() == 1 {
        enc.array_len(TABLE.len());
        for spec in TABLE {
            write_docs(enc, captured_docs(spec).map(info));
        }
        return Ok(());
    }
    match subcommand(args, "COMMAND", SUBCOMMANDS)? {
        "count" => enc.integer(TABLE.len() as i64),
        "info" if args.len() == 2 => {
            enc.array_len(TABLE.len());
            for spec in TABLE {
                write_docs(enc, captured_docs(spec).map(info));
            }
        }
        "info" => {
            enc.array_len(args.len() - 2);
            for name in args.iter().skip(2) {
                write_docs(enc, lookup(name).and_then(captured_docs).map(info));
            }
        }
        _ => {
            let wanted: Vec<&CapturedDocs> = if args.len() == 2 {
                TABLE.iter().filter_map(captured_docs).collect()
            } else {
                args.iter()
                    .skip(2)
                    .filter_map(lookup)
                    .filter_map(captured_docs)
                    .collect()
            };
            enc.map_len(wanted.len());
            for d in wanted {
                enc.bulk(d.name.as_bytes());
                enc.buffer()
                    .extend_from_slice(if resp3 { d.docs_resp3 } else { d.docs_resp2 });
            }
        }
    }
    Ok(())
}

fn write_docs(enc: &mut ReplyEncoder, raw: Option<&[u8]>) {
    match raw {
        Some(raw) => enc.buffer().extend_from_slice(raw),
        None => enc.null(),
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::run_connection;

    #[test]
    fn count_matches_table() {
        let expected = format!(":{}\r\n", crate::TABLE.len());
        assert_eq!(run_connection(&["COMMAND", "COUNT"]).0, expected.as_bytes());
        assert_eq!(
            run_connection(&["COMMAND", "COUNT", "x"]).0,
            b"-ERR wrong number of arguments for 'command|count' command\r\n"
        );
    }

    #[test]
    fn info_gives_redis_entry_or_null() {
        let (out, _) = run_connection(&["COMMAND", "INFO", "foo", "GET"]);
        assert!(
            out.starts_with(b"*2\r\n$-1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n")
        );
    }

    #[test]
    fn docs_skip_unknown_names() {
        assert_eq!(run_connection(&["COMMAND", "DOCS", "foo"]).0, b"*0\r\n");
        let (out, _) = run_connection(&["COMMAND", "DOCS", "setex"]);
        assert!(out.starts_with(b"*2\r\n$5\r\nsetex\r\n*10\r\n$7\r\nsummary\r\n"));
    }

    #[test]
    fn unknown_subcommand() {
        assert_eq!(
            run_connection(&["COMMAND", "foo"]).0,
            b"-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n"
        );
    }
}
