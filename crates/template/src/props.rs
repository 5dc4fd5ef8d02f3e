//! Property tests (issue 17, fuzzing on stable): the lexer, the parser and the executor never
//! panic, hang or allocate without bound, on arbitrary text and on mutated well-formed templates
//! built from a small grammar.
//!
//! The crate has no step budget of its own (in production the template component's fuel and
//! deadline bound a render), so a template is executed here only when its literals are small:
//! every number and character constant at most [`MAX_LITERAL`], at most [`MAX_RANGES`] `range`
//! keywords, and one `template` or `block` call only in a template without `range` (the data
//! holds no digits either). Parsing is always exercised. `PROPTEST_CASES` raises the case count.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::lex::{Tok, lex};
use crate::{Delims, Env, Template, Value};

/// Largest number or character constant a template may hold to be executed.
const MAX_LITERAL: f64 = 64.0;
/// Most `range` keywords a template may hold to be executed.
const MAX_RANGES: usize = 2;

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads `PROPTEST_CASES`; without it, 256 cases.
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 256;
    }
    c
}

/// The data a render sees: ESO's `map[string]string` with a nested `interface {}` map beside.
fn data() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        "[a-z {}\"]{0,8}".prop_map(Value::String),
        (-4i64..64).prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Nil),
        (-4.0f64..64.0).prop_map(Value::Float),
    ];
    let nested = scalar.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::list),
            prop::collection::btree_map("[a-c]", inner, 0..4).prop_map(Value::map),
        ]
    });
    (
        prop::collection::btree_map("[a-e]{1,2}", "[ -/:-~]{0,12}", 0..5),
        nested,
    )
        .prop_map(|(strings, nested)| {
            let mut m: BTreeMap<String, Value> = strings
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            m.insert("n".into(), nested);
            Value::map(m)
        })
}

/// Functions the grammar calls, with their arity: cheap ones, and the ones that build or mutate
/// values (`set`, `merge`, ...).
#[rustfmt::skip]
const FUNCS: &[(&str, usize)] = &[
    ("upper", 1), ("lower", 1), ("quote", 1), ("squote", 1), ("trim", 1), ("b64enc", 1),
    ("b64dec", 1), ("toJson", 1), ("fromJson", 1), ("len", 1), ("index", 2), ("printf", 2),
    ("default", 2), ("empty", 1), ("list", 2), ("dict", 2), ("set", 3), ("unset", 2), ("keys", 1),
    ("values", 1), ("join", 2), ("split", 2), ("splitList", 2), ("replace", 3), ("contains", 2),
    ("hasPrefix", 2), ("add", 2), ("sub", 2), ("until", 1), ("repeat", 2), ("indent", 2),
    ("nindent", 2), ("trunc", 2), ("substr", 3), ("eq", 2), ("ne", 2), ("lt", 2), ("and", 2),
    ("or", 2), ("not", 1), ("print", 2), ("println", 1), ("html", 1), ("js", 1), ("urlquery", 1),
    ("toString", 1), ("atoi", 1), ("int", 1), ("float64", 1), ("first", 1), ("rest", 1),
    ("last", 1), ("append", 2), ("concat", 2), ("uniq", 1), ("sortAlpha", 1), ("toYaml", 1),
    ("fromYaml", 1), ("ternary", 3), ("coalesce", 2), ("hasKey", 2), ("pluck", 2), ("merge", 2),
    ("mergeOverwrite", 2), ("deepCopy", 1), ("sha256sum", 1), ("b32enc", 1), ("trimPrefix", 2),
    ("regexMatch", 2), ("regexReplaceAll", 3), ("abbrev", 2), ("wrap", 2), ("title", 1),
    ("snakecase", 1), ("randAlphaNum", 1), ("uuidv4", 0), ("get", 2), ("dig", 3), ("toRawJson", 1),
    ("slice", 2), ("kindOf", 1), ("typeOf", 1), ("toStrings", 1), ("compact", 1), ("without", 2),
    ("has", 2), ("chunk", 2), ("reverse", 1), ("cat", 2), ("nospace", 1),
];

fn operand() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(".".to_owned()),
        "\\.[a-e]{1,2}",
        Just(".n".to_owned()),
        Just(".n.a".to_owned()),
        Just("$".to_owned()),
        Just("$x".to_owned()),
        Just("$m".to_owned()),
        "\"[a-z%{}: ]{0,6}\"",
        "`[a-z {}]{0,4}`",
        (0u8..8).prop_map(|n| n.to_string()),
        Just("-1".to_owned()),
        Just("1.5".to_owned()),
        Just("'a'".to_owned()),
        Just("true".to_owned()),
        Just("nil".to_owned()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                prop::sample::select(FUNCS),
                prop::collection::vec(inner.clone(), 3)
            )
                .prop_map(|((f, n), args)| format!("({f} {})", args[..n].join(" "))),
            (
                inner.clone(),
                prop::sample::select(FUNCS),
                prop::collection::vec(inner.clone(), 2)
            )
                .prop_map(|(a, (f, n), args)| {
                    format!("({a} | {f} {})", args[..n.saturating_sub(1)].join(" "))
                }),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

fn pipeline() -> impl Strategy<Value = String> {
    (
        operand(),
        prop::collection::vec(
            (
                prop::sample::select(FUNCS),
                prop::collection::vec(operand(), 2),
            ),
            0..3,
        ),
    )
        .prop_map(|(head, tail)| {
            let mut p = head;
            for ((f, n), args) in tail {
                p.push_str(" | ");
                p.push_str(f);
                for a in &args[..n.saturating_sub(1)] {
                    p.push(' ');
                    p.push_str(a);
                }
            }
            p
        })
}

/// Declares the variables the grammar uses, at the top of each template of the set.
const VARS: &str = "{{ $x := 0 }}{{ $m := dict }}";

/// A well-formed template (it may still fail to parse or execute: types are not checked).
fn template() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-z \n]{0,6}",
        pipeline().prop_map(|p| format!("{{{{ {p} }}}}")),
        pipeline().prop_map(|p| format!("{{{{- {p} -}}}}")),
        pipeline().prop_map(|p| format!("{{{{ $x := {p} }}}}")),
        pipeline().prop_map(|p| format!("{{{{ $x = {p} }}}}")),
        Just("{{ $m := dict \"a\" 1 }}".to_owned()),
        Just("{{/* c */}}".to_owned()),
        Just("{{ template \"t\" . }}".to_owned()),
    ];
    let body = leaf.prop_recursive(3, 16, 4, |inner| {
        let list = prop::collection::vec(inner, 0..4).prop_map(|v| v.concat());
        prop_oneof![
            (pipeline(), list.clone(), list.clone())
                .prop_map(|(p, a, b)| format!("{{{{ if {p} }}}}{a}{{{{ else }}}}{b}{{{{ end }}}}")),
            (pipeline(), list.clone()).prop_map(|(p, a)| format!(
                "{{{{ range $i, $v := {p} }}}}{a}{{{{ if $i }}}}{{{{ break }}}}{{{{ end }}}}{{{{ end }}}}"
            )),
            (pipeline(), list.clone())
                .prop_map(|(p, a)| format!("{{{{ with {p} }}}}{a}{{{{ end }}}}")),
            (pipeline(), list.clone()).prop_map(|(p, a)| format!(
                "{{{{ block \"b\" {p} }}}}{VARS}{a}{{{{ end }}}}"
            )),
            list,
        ]
    });
    (body.clone(), body).prop_map(|(define, main)| {
        format!("{VARS}{main}{{{{ define \"t\" }}}}{VARS}{define}{{{{ end }}}}")
    })
}

/// One edit of a template's text.
#[derive(Debug, Clone)]
enum Edit {
    Insert(prop::sample::Index, char),
    Delete(prop::sample::Index, usize),
    Duplicate(prop::sample::Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop::sample::select("{}()|$.\":= -/*a1\n\\'`,eid".chars().collect::<Vec<_>>());
    prop_oneof![
        (any::<prop::sample::Index>(), c).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<prop::sample::Index>(), 1usize..6).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<prop::sample::Index>(), 1usize..12).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        match e {
            Edit::Insert(i, c) => {
                let at = i.index(chars.len() + 1);
                chars.insert(at, *c);
            }
            Edit::Delete(i, n) if !chars.is_empty() => {
                let at = i.index(chars.len());
                let end = (at + n).min(chars.len());
                chars.drain(at..end);
            }
            Edit::Duplicate(i, n) if !chars.is_empty() => {
                let at = i.index(chars.len());
                let end = (at + n).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, copy);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// Whether the literals of `text` are small enough for its execution to be bounded.
fn bounded(text: &str, delims: &Delims) -> bool {
    let items = lex(text, &delims.left, &delims.right);
    let count = |toks: &[Tok]| items.iter().filter(|i| toks.contains(&i.tok)).count();
    // A template that calls itself twice runs 2^depth times; one inside a range, 64^depth.
    let (ranges, calls) = (count(&[Tok::Range]), count(&[Tok::Template, Tok::Block]));
    let small = items.iter().all(|i| match i.tok {
        Tok::Number => i
            .val
            .parse::<f64>()
            .is_ok_and(|v| v.abs() <= MAX_LITERAL && i.val.len() <= 4),
        Tok::CharConst | Tok::Char => i.val.chars().count() <= 3 && i.val.is_ascii(),
        Tok::Str | Tok::RawStr => !i.val.contains(|c: char| c.is_ascii_digit()),
        _ => true,
    });
    small && ranges <= MAX_RANGES && (calls == 0 || (calls == 1 && ranges == 0))
}

/// Lexes, parses and (when bounded) executes `text`; only a panic or a hang fails.
fn exercise(text: &str, delims: &Delims, data: &Value) {
    let items = lex(text, &delims.left, &delims.right);
    assert!(
        matches!(items.last().map(|i| i.tok), Some(Tok::Eof | Tok::Error)),
        "the lexer ends with EOF or an error"
    );
    let Ok(t) = Template::parse("main", text, delims) else {
        return;
    };
    if !bounded(text, delims) {
        return;
    }
    let _ = t.execute(data, &Env::default());
    for name in t.template_names() {
        let _ = t.execute_template(name, data, &Env::default());
    }
}

fn delims() -> impl Strategy<Value = Delims> {
    prop_oneof![
        4 => Just(Delims::default()),
        1 => ("[<{\\[%]{0,2}", "[>}\\]%]{0,2}").prop_map(|(left, right)| Delims { left, right }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,64}", delims in delims(), data in data()) {
        exercise(&text, &delims, &data);
    }

    #[test]
    fn template_shaped_text_never_panics(
        text in "([{}()|$.\": =a-z0-9\\-/*'`\\\\\n]|\\{\\{|\\}\\}|if |end|range |else){0,48}",
        data in data(),
    ) {
        exercise(&text, &Delims::default(), &data);
    }

    #[test]
    fn grammar_templates_never_panic(text in template(), data in data()) {
        exercise(&text, &Delims::default(), &data);
    }

    #[test]
    fn mutated_templates_never_panic(
        text in template(),
        edits in prop::collection::vec(edit(), 1..3),
        data in data(),
    ) {
        exercise(&apply(&text, &edits), &Delims::default(), &data);
    }

    /// Maps are shared and `set`/`merge` mutate them: whatever is stored where, printing,
    /// encoding, copying and comparing the maps afterwards terminates (no cycle can form).
    #[test]
    fn shared_maps_never_form_a_cycle(
        steps in prop::collection::vec(
            (
                prop::sample::select(&["set", "merge", "mergeOverwrite"][..]),
                prop::sample::select(&["$a", "$b", "$a.x", "$b.x"][..]),
                prop::sample::select(&[
                    "$a", "$b", "$a.x", "(list $a)", "(dict \"x\" $b)", "(dict \"x\" (dict \"y\" $a))",
                    "(list (list $b))", "1",
                ][..]),
            ),
            1..6,
        ),
        reader in prop::sample::select(&[
            "{{ $a }}{{ $b }}", "{{ toJson $a }}", "{{ deepCopy $b }}", "{{ eq $a $b }}",
            "{{ toYaml $a }}", "{{ printf \"%v %+v\" $a $b }}", "{{ len $a }}",
        ][..]),
    ) {
        let mut text = String::from("{{ $a := dict \"x\" (dict) }}{{ $b := dict \"x\" (dict) }}");
        for (f, dst, v) in steps {
            let stmt = match f {
                "set" => format!("{{{{ $_ := set {dst} \"x\" {v} }}}}"),
                _ => format!("{{{{ $_ := {f} {dst} (dict \"x\" {v}) }}}}"),
            };
            text.push_str(&stmt);
        }
        text.push_str(reader);
        exercise(&text, &Delims::default(), &Value::Nil);
    }

    /// Nesting of any depth fails to parse or executes within the stack of a test thread
    /// (2 MiB, debug build): the parser and the executor bound their recursion.
    #[test]
    fn deep_nesting_never_overflows_the_stack(
        layers in prop::collection::vec(
            prop::sample::select(&["if", "with", "range", "paren", "elseif", "call"][..]),
            0..400,
        ),
    ) {
        let mut open = String::new();
        let mut close = String::new();
        for l in &layers {
            match *l {
                "if" => {
                    open.push_str("{{ if 1 }}");
                    close.insert_str(0, "{{ end }}");
                }
                "with" => {
                    open.push_str("{{ with 1 }}");
                    close.insert_str(0, "{{ end }}");
                }
                "range" => {
                    open.push_str("{{ range 1 }}");
                    close.insert_str(0, "{{ end }}");
                }
                "elseif" => {
                    open.push_str("{{ if 0 }}{{ else if 1 }}");
                    close.insert_str(0, "{{ end }}");
                }
                "paren" => {
                    open.push_str("{{ (");
                    close.insert_str(0, ") }}");
                }
                _ => {
                    open.push_str("{{ template \"t\" . }}");
                }
            }
        }
        let text = format!(
            "{open}x{close}{{{{ define \"t\" }}}}{{{{ if 1 }}}}{{{{ template \"t\" . }}}}{{{{ end }}}}{{{{ end }}}}"
        );
        if let Ok(t) = Template::parse("main", &text, &Delims::default()) {
            let _ = t.execute(&Value::Nil, &Env::default());
        }
    }
}
