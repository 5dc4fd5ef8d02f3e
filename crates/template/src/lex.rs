//! The lexer: Go `text/template/parse` items, produced eagerly up to EOF or the first error.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Error,
    Eof,
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Assign,
    Declare,
    Pipe,
    Str,
    RawStr,
    Char,
    CharConst,
    Number,
    Bool,
    Field,
    Variable,
    Ident,
    LeftParen,
    RightParen,
    // Keywords (printed as `<word>` in errors).
    Dot,
    Nil,
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub tok: Tok,
    pub pos: usize,
    pub val: String,
    pub line: usize,
}

impl Item {
    /// Go's `item.String()`, used in parse errors.
    pub fn describe(&self) -> String {
        match self.tok {
            Tok::Eof => "EOF".into(),
            Tok::Error => self.val.clone(),
            t if t as u8 >= Tok::Dot as u8 => format!("<{}>", self.val),
            _ if self.val.len() > 10 => {
                let cut: String = self.val.chars().take(10).collect();
                format!("{}...", crate::gofmt::quote(&cut))
            }
            _ => crate::gofmt::quote(&self.val),
        }
    }
}

fn keyword(word: &str) -> Option<Tok> {
    Some(match word {
        "." => Tok::Dot,
        "nil" => Tok::Nil,
        "block" => Tok::Block,
        "break" => Tok::Break,
        "continue" => Tok::Continue,
        "define" => Tok::Define,
        "else" => Tok::Else,
        "end" => Tok::End,
        "if" => Tok::If,
        "range" => Tok::Range,
        "template" => Tok::Template,
        "with" => Tok::With,
        _ => return None,
    })
}

pub fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

struct Lexer<'a> {
    input: &'a str,
    left: &'a str,
    right: &'a str,
    pos: usize,
    start: usize,
    line: usize,
    start_line: usize,
    paren_depth: i32,
    items: Vec<Item>,
}

/// Lexes the whole input; the last item is `Eof` or `Error`.
pub fn lex(input: &str, left: &str, right: &str) -> Vec<Item> {
    // An empty delimiter is the default one, as in Go (and `find("")` would never advance).
    let left = if left.is_empty() { "{{" } else { left };
    let right = if right.is_empty() { "}}" } else { right };
    let mut l = Lexer {
        input,
        left,
        right,
        pos: 0,
        start: 0,
        line: 1,
        start_line: 1,
        paren_depth: 0,
        items: Vec::new(),
    };
    l.run();
    l.items
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn backup(&mut self, c: Option<char>) {
        if let Some(c) = c {
            self.pos -= c.len_utf8();
            if c == '\n' {
                self.line -= 1;
            }
        }
    }

    fn emit(&mut self, tok: Tok) {
        let val = self.input[self.start..self.pos].to_string();
        self.items.push(Item {
            tok,
            pos: self.start,
            val,
            line: self.start_line,
        });
        self.ignore();
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn skip_to(&mut self, pos: usize) {
        self.line += self.input[self.pos..pos].matches('\n').count();
        self.pos = pos;
    }

    fn error(&mut self, msg: String) -> bool {
        self.items.push(Item {
            tok: Tok::Error,
            pos: self.start,
            val: msg,
            line: self.start_line,
        });
        false
    }

    fn has_left_trim(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
    }

    fn has_right_trim(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let r = self.rest();
        if Self::has_right_trim(r) && r[2..].starts_with(self.right) {
            return (true, true);
        }
        (r.starts_with(self.right), false)
    }

    fn run(&mut self) {
        loop {
            // Text up to the next left delimiter.
            let Some(x) = self.rest().find(self.left) else {
                self.skip_to(self.input.len());
                if self.pos > self.start {
                    self.emit(Tok::Text);
                }
                self.emit(Tok::Eof);
                return;
            };
            let delim_at = self.pos + x;
            let after = &self.input[delim_at + self.left.len()..];
            let trim = Self::has_left_trim(after);
            let text_end = if trim {
                let t = &self.input[self.start..delim_at];
                delim_at - (t.len() - t.trim_end_matches(is_space).len())
            } else {
                delim_at
            };
            self.skip_to(text_end);
            if self.pos > self.start {
                self.emit(Tok::Text);
            }
            self.skip_to(delim_at);
            self.ignore();
            if !self.left_delim(trim) {
                return;
            }
        }
    }

    fn left_delim(&mut self, trim: bool) -> bool {
        self.pos += self.left.len();
        let marker = if trim { 2 } else { 0 };
        if self.input[self.pos + marker..].starts_with("/*") {
            self.pos += marker;
            self.ignore();
            return self.comment();
        }
        self.emit(Tok::LeftDelim);
        self.pos += marker;
        self.ignore();
        self.paren_depth = 0;
        self.inside_action()
    }

    fn comment(&mut self) -> bool {
        self.pos += 2;
        let Some(x) = self.rest().find("*/") else {
            return self.error("unclosed comment".into());
        };
        self.skip_to(self.pos + x + 2);
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += 2;
        }
        self.pos += self.right.len();
        if trim {
            let r = self.rest();
            let n = r.len() - r.trim_start_matches(is_space).len();
            self.skip_to(self.pos + n);
        }
        self.ignore();
        true
    }

    fn right_delim(&mut self, trim: bool) {
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += self.right.len();
        self.emit(Tok::RightDelim);
        if trim {
            let r = self.rest();
            let n = r.len() - r.trim_start_matches(is_space).len();
            self.skip_to(self.pos + n);
            self.ignore();
        }
    }

    fn inside_action(&mut self) -> bool {
        loop {
            let (delim, trim) = self.at_right_delim();
            if delim {
                if self.paren_depth == 0 {
                    self.right_delim(trim);
                    return true;
                }
                return self.error("unclosed left paren".into());
            }
            let c = self.next();
            let ok = match c {
                None => self.error("unclosed action".into()),
                Some(c) if is_space(c) => {
                    self.backup(Some(c));
                    self.space()
                }
                Some('=') => self.emit_ok(Tok::Assign),
                Some(':') => {
                    if self.next() != Some('=') {
                        return self.error("expected :=".into());
                    }
                    self.emit_ok(Tok::Declare)
                }
                Some('|') => self.emit_ok(Tok::Pipe),
                Some('"') => self.quote(),
                Some('`') => self.raw_quote(),
                Some('$') => self.field_or_var(Tok::Variable),
                Some('\'') => self.char_const(),
                Some('.') if self.peek().is_some_and(|c| !c.is_ascii_digit()) => {
                    self.field_or_var(Tok::Field)
                }
                Some(c) if c == '.' || c == '+' || c == '-' || c.is_ascii_digit() => {
                    self.backup(Some(c));
                    self.number()
                }
                Some(c) if is_alnum(c) => {
                    self.backup(Some(c));
                    self.identifier()
                }
                Some('(') => {
                    self.paren_depth += 1;
                    self.emit_ok(Tok::LeftParen)
                }
                Some(')') => {
                    self.paren_depth -= 1;
                    if self.paren_depth < 0 {
                        return self.error("unexpected right paren".into());
                    }
                    self.emit_ok(Tok::RightParen)
                }
                Some(c) if c.is_ascii() && !c.is_ascii_control() => self.emit_ok(Tok::Char),
                Some(c) => self.error(format!(
                    "unrecognized character in action: {}",
                    crate::gofmt::unicode_u(c)
                )),
            };
            if !ok {
                return false;
            }
        }
    }

    fn emit_ok(&mut self, tok: Tok) -> bool {
        self.emit(tok);
        true
    }

    fn space(&mut self) -> bool {
        let mut n = 0;
        while self.peek().is_some_and(is_space) {
            self.next();
            n += 1;
        }
        let before = &self.input[self.pos - 1..];
        if Self::has_right_trim(before) && before[2..].starts_with(self.right) {
            let c = before.chars().next();
            self.backup(c);
            if n == 1 {
                return true; // The delimiter is handled by inside_action.
            }
        }
        self.emit(Tok::Space);
        true
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with(self.right),
        }
    }

    fn identifier(&mut self) -> bool {
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", crate::gofmt::unicode_u(c)));
        }
        let word = &self.input[self.start..self.pos];
        let tok = match keyword(word) {
            Some(t) => t,
            None if word == "true" || word == "false" => Tok::Bool,
            None => Tok::Ident,
        };
        self.emit_ok(tok)
    }

    fn field_or_var(&mut self, tok: Tok) -> bool {
        if self.at_terminator() {
            return self.emit_ok(if tok == Tok::Variable {
                Tok::Variable
            } else {
                Tok::Dot
            });
        }
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", crate::gofmt::unicode_u(c)));
        }
        self.emit_ok(tok)
    }

    fn quote(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.error("unterminated quoted string".into()),
                },
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some('"') => return self.emit_ok(Tok::Str),
                Some(_) => {}
            }
        }
    }

    fn raw_quote(&mut self) -> bool {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".into()),
                Some('`') => return self.emit_ok(Tok::RawStr),
                Some(_) => {}
            }
        }
    }

    fn char_const(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.error("unterminated character constant".into()),
                },
                None | Some('\n') => return self.error("unterminated character constant".into()),
                Some('\'') => return self.emit_ok(Tok::CharConst),
                Some(_) => {}
            }
        }
    }

    fn number(&mut self) -> bool {
        let accept = |l: &mut Self, set: &str| -> bool {
            if l.peek().is_some_and(|c| set.contains(c)) {
                l.next();
                true
            } else {
                false
            }
        };
        accept(self, "+-");
        let mut digits = "0123456789_";
        if accept(self, "0") {
            if accept(self, "xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if accept(self, "oO") {
                digits = "01234567_";
            } else if accept(self, "bB") {
                digits = "01_";
            }
        }
        while accept(self, digits) {}
        if accept(self, ".") {
            while accept(self, digits) {}
        }
        if digits.len() == 11 && accept(self, "eE") {
            accept(self, "+-");
            while accept(self, "0123456789_") {}
        }
        if digits.len() == 23 && accept(self, "pP") {
            accept(self, "+-");
            while accept(self, "0123456789_") {}
        }
        accept(self, "i");
        if self.peek().is_some_and(is_alnum) {
            self.next();
            let bad = self.input[self.start..self.pos].to_string();
            return self.error(format!("bad number syntax: {}", crate::gofmt::quote(&bad)));
        }
        self.emit_ok(Tok::Number)
    }
}
