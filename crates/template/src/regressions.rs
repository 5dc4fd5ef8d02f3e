//! Regression tests for what the property tests of issue 17 (`props.rs`) and the reading around
//! them found: each input used to panic, overflow the stack, allocate without bound or hang.

use crate::lex::{Tok, lex};
use crate::{Delims, Env, Template, Value};

fn render(text: &str) -> Result<String, String> {
    Template::parse("main", text, &Delims::default())
        .and_then(|t| t.execute(&Value::Nil, &Env::default()))
        .map_err(|e| e.to_string())
}

fn error_of(text: &str) -> String {
    render(text).expect_err(text)
}

/// `lex` with an empty delimiter looped forever (`find("")` never advances); `parse` replaced
/// empty delimiters before, the lexer now does too.
#[test]
fn lexing_with_empty_delimiters_terminates() {
    let items = lex("a{{ 1 }}b", "", "");
    assert_eq!(items.last().map(|i| i.tok), Some(Tok::Eof));
    assert_eq!(items.iter().filter(|i| i.tok == Tok::Number).count(), 1);
}

/// `range N` materialised its N items first: 99999999999 aborted on a failed allocation.
#[test]
fn range_over_a_huge_integer_is_lazy() {
    assert_eq!(
        render("{{ range 99999999999 }}{{ break }}{{ end }}x").as_deref(),
        Ok("x")
    );
    assert_eq!(
        render("{{ range $i := 3 }}{{ $i }}{{ end }}{{ range 0 }}{{ else }}none{{ end }}")
            .as_deref(),
        Ok("012none")
    );
}

/// `printf "%99999999999999999999d"` overflowed the width (a panic in debug builds, a wrapped
/// width in release); Go stops at widths past 1e6 and writes `%!(NOVERB)`.
#[test]
fn printf_with_a_width_too_long_writes_noverb() {
    assert_eq!(
        render("{{ printf \"%99999999999999999999d\" 1 }}").as_deref(),
        Ok("%!(NOVERB)%!(EXTRA int=1)")
    );
    assert_eq!(
        render("{{ printf \"%.99999999999f\" 1.5 }}").as_deref(),
        Ok("%!(NOVERB)%!(EXTRA float64=1.5)")
    );
}

/// `printf "%*d" 99999999999 1` padded to 10^11 characters, `printf "%.*f" 99999999999 1.5`
/// panicked in `format!`; Go refuses both (`%!(BADWIDTH)`, `%!(BADPREC)`).
#[test]
fn printf_with_a_star_width_too_large_writes_badwidth() {
    assert_eq!(
        render("{{ printf \"%*d\" 99999999999 1 }}").as_deref(),
        Ok("%!(BADWIDTH)1")
    );
    assert_eq!(
        render("{{ printf \"%.*f\" 99999999999 1.5 }}").as_deref(),
        Ok("%!(BADPREC)1.500000")
    );
    assert_eq!(
        render("{{ printf \"%*d|%-*d|%*d|\" 5 1 3 2 -4 3 }}").as_deref(),
        Ok("    1|2  |3   |")
    );
}

/// `repeat`, `indent`, `nindent` and the random strings allocated whatever they were asked
/// for (abort on a failed allocation, or a hang generating it).
#[test]
fn strings_longer_than_the_cap_are_errors() {
    for text in [
        "{{ repeat 99999999999999 \"ab\" }}",
        "{{ repeat 9223372036854775807 \"ab\" }}",
        "{{ indent 99999999999999 \"x\" }}",
        "{{ nindent 99999999999999 \"x\" }}",
        "{{ randAlphaNum 99999999999 }}",
        "{{ randAscii 99999999999 }}",
        "{{ randBytes 99999999999 }}",
    ] {
        let e = error_of(text);
        assert!(e.contains("longer than 67108864 bytes"), "{text}: {e}");
    }
    assert_eq!(render("{{ repeat 3 \"ab\" }}").as_deref(), Ok("ababab"));
    assert_eq!(
        render("{{ indent 2 \"a\\nb\" }}").as_deref(),
        Ok("  a\n  b")
    );
}

/// `randInt` computed `max - min` unchecked: a panic in debug builds.
#[test]
fn rand_int_with_an_overflowing_span_is_an_error() {
    let e = error_of("{{ randInt -9223372036854775808 9223372036854775807 }}");
    assert!(e.ends_with("invalid argument to Intn"), "{e}");
}

/// `untilStep`/`seq` near `i64::MAX` overflowed their counter (a panic in debug builds, a
/// wrapped sequence in release).
#[test]
fn sequences_near_the_int64_range_end() {
    assert_eq!(
        render("{{ untilStep 0 9223372036854775807 4611686018427387904 }}").as_deref(),
        Ok("[0 4611686018427387904]")
    );
    assert_eq!(render("{{ seq 1 9223372036854775807 }}").as_deref(), Ok(""));
    assert_eq!(render("{{ seq -9223372036854775808 }}").as_deref(), Ok(""));
    assert_eq!(
        render("{{ seq 5 }}|{{ seq 3 -1 }}|{{ seq 0 2 6 }}").as_deref(),
        Ok("1 2 3 4 5|3 2 1 0 -1|0 2 4 6")
    );
}

/// `ago` of a time ~292 years away rounded past `i64::MIN` (a panic in debug builds); Go's
/// `Duration.Round` saturates.
#[test]
fn ago_of_a_far_time_saturates() {
    assert_eq!(
        render("{{ ago 9223372036854775807 }}").as_deref(),
        Ok("-2562047h47m16.854775808s")
    );
}

/// `set $m "k" $m` made a map hold itself; printing, `toJson`, `deepCopy` or `eq` of it then
/// recursed until the stack overflowed (Go builds the cycle too, and dies printing it).
#[test]
fn set_cannot_make_a_map_contain_itself() {
    for text in [
        "{{ $m := dict }}{{ $_ := set $m \"k\" $m }}{{ $m }}",
        "{{ $m := dict }}{{ $_ := set $m \"k\" (list $m) }}{{ toJson $m }}",
        "{{ $m := dict }}{{ $n := dict \"m\" $m }}{{ $_ := set $m \"k\" $n }}{{ deepCopy $m }}",
    ] {
        let e = error_of(text);
        assert!(
            e.contains("error calling set: map cannot contain itself"),
            "{text}: {e}"
        );
    }
    assert_eq!(
        render("{{ $m := dict }}{{ $_ := set $m \"k\" (dict \"a\" 1) }}{{ $m }}").as_deref(),
        Ok("map[k:map[a:1]]")
    );
}

/// `merge $m (dict "x" $m)` borrowed `$m` while it was mutably borrowed (a `RefCell` panic when
/// `$m.x` is a map) or stored `$m` inside itself (a stack overflow later).
#[test]
fn merging_a_map_into_itself_is_an_error() {
    for text in [
        "{{ $m := dict \"x\" (dict) }}{{ $_ := merge $m (dict \"x\" $m) }}{{ $m }}",
        "{{ $a := dict }}{{ $_ := merge $a (dict \"y\" $a) }}{{ toYaml $a }}",
        "{{ $m := dict \"x\" (dict \"z\" 1) }}{{ $_ := mergeOverwrite $m (dict \"x\" (dict \"y\" $m.x)) }}{{ $m }}",
    ] {
        let e = error_of(text);
        assert!(e.contains("map cannot contain itself"), "{text}: {e}");
    }
    assert_eq!(
        render(
            "{{ $m := dict \"a\" 1 }}{{ $_ := merge $m (dict \"b\" 2) (dict \"a\" 3) }}{{ $m }}"
        )
        .as_deref(),
        Ok("map[a:1 b:2]")
    );
}

/// 500 nested `if`s (or parentheses) overflowed a 2 MiB stack while parsing in a debug build
/// (700 in release with 1 MiB, the template component's stack): nesting stops at 100.
#[test]
fn deep_nesting_is_a_parse_error() {
    let ifs = format!("{}x{}", "{{ if 1 }}".repeat(5000), "{{ end }}".repeat(5000));
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    let chain = format!(
        "{{{{ if 0 }}}}{}{{{{ end }}}}",
        "{{ else if 0 }}".repeat(5000)
    );
    for text in [ifs, parens, chain] {
        let e = error_of(&text);
        assert!(e.ends_with("max expression depth exceeded"), "{e}");
    }
    let ok = format!("{}x{}", "{{ if 1 }}".repeat(100), "{{ end }}".repeat(100));
    assert_eq!(render(&ok).as_deref(), Ok("x"));
}

/// A template calling itself inside `if`/`with`/`range` bodies overflowed the stack before the
/// 1000-call limit; calls and bodies now count together, up to 200.
#[test]
fn deep_recursion_is_an_execution_error() {
    let text = "{{ define \"t\" }}{{ if 1 }}{{ with 1 }}{{ range 1 }}{{ template \"t\" . }}{{ end }}{{ end }}{{ end }}{{ end }}{{ template \"t\" . }}";
    let e = error_of(text);
    assert!(e.ends_with("exceeded maximum template depth (200)"), "{e}");
}
