//! Derived-column expressions: a small hand-written parser and an evaluator
//! that works on blocks of rows.
//!
//! Grammar (usual precedence, left-associative):
//!
//! ```text
//! expr    := term (("+" | "-") term)*
//! term    := unary (("*" | "/") unary)*
//! unary   := ("-" | "+") unary | primary
//! primary := number | column | function "(" expr ("," expr)* ")" | "(" expr ")"
//! column  := [A-Za-z_][A-Za-z0-9_]*  |  `any text but a backtick`
//! ```
//!
//! Functions: `log` (natural), `log1p`, `exp`, `sqrt`, `abs`, `floor`, `ceil`,
//! `round` (half away from zero), `pow(x, y)`, `min(a, b, ...)`, `max(a, b, ...)`;
//! date parts of a date or timestamp column: `year`, `month`, `day`,
//! `weekday` (Monday = 0), `dayofyear`, `hour`, `minute`, `second`, `days`
//! (days since 1970-01-01, time of day as a fraction).
//!
//! Missing in, missing out: any missing operand gives NaN. Division by zero
//! gives NaN, and so does every result that is not a finite number (log of 0
//! or of a negative number, sqrt of a negative number, overflow).

use serde::{Deserialize, Serialize};

use crate::dates::DatePart;
use crate::input::{each_local, fill_f64, fill_f64_range, fill_part, finite, InputKind, Local, Run, TableView};
use crate::num::F;

/// Deepest nesting of parentheses and unary signs accepted.
const MAX_DEPTH: usize = 64;

/// `+ - * /`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// Numeric functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Func {
    Log,
    Log1p,
    Exp,
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Round,
    Pow,
    Min,
    Max,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "log" => Func::Log,
            "log1p" => Func::Log1p,
            "exp" => Func::Exp,
            "sqrt" => Func::Sqrt,
            "abs" => Func::Abs,
            "floor" => Func::Floor,
            "ceil" => Func::Ceil,
            "round" => Func::Round,
            "pow" => Func::Pow,
            "min" => Func::Min,
            "max" => Func::Max,
            _ => return None,
        })
    }

    /// Whether `n` arguments fit, and what fits, for the message.
    fn arity(self, n: usize) -> Result<(), &'static str> {
        match self {
            Func::Pow if n != 2 => Err("2 arguments"),
            Func::Min | Func::Max if n < 2 => Err("at least 2 arguments"),
            Func::Pow | Func::Min | Func::Max => Ok(()),
            _ if n != 1 => Err("1 argument"),
            _ => Ok(()),
        }
    }

    fn apply1(self, v: f64) -> f64 {
        match self {
            Func::Log => v.ln(),
            Func::Log1p => v.ln_1p(),
            Func::Exp => v.exp(),
            Func::Sqrt => v.sqrt(),
            Func::Abs => v.abs(),
            Func::Floor => v.floor(),
            Func::Ceil => v.ceil(),
            Func::Round => v.round(),
            Func::Pow | Func::Min | Func::Max => f64::NAN,
        }
    }

    fn apply2(self, a: f64, b: f64) -> f64 {
        if a.is_nan() || b.is_nan() {
            return f64::NAN;
        }
        match self {
            Func::Pow => a.powf(b),
            Func::Min => a.min(b),
            Func::Max => a.max(b),
            _ => f64::NAN,
        }
    }
}

/// A resolved, serialisable expression; columns are indices into the pipeline's inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Expr {
    Const(F),
    /// A number or boolean input column.
    Column(usize),
    /// A part of a date or timestamp input column.
    Part(usize, DatePart),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

/// A parse or resolution error: 1-based character position and what went wrong.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExprError {
    pub pos: usize,
    pub message: String,
}

fn err<T>(pos: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        pos,
        message: message.into(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(char),
    Open,
    Close,
    Comma,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v) => format!("the number {v}"),
        Tok::Name(n) => format!("'{n}'"),
        Tok::Op(c) => format!("'{c}'"),
        Tok::Open => "'('".into(),
        Tok::Close => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::End => "the end of the expression".into(),
    }
}

fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '+' | '-' | '*' | '/' => {
                i += 1;
                Tok::Op(c)
            }
            '(' => {
                i += 1;
                Tok::Open
            }
            ')' => {
                i += 1;
                Tok::Close
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '`' => {
                let start = i + 1;
                let Some(len) = chars[start..].iter().position(|&c| c == '`') else {
                    return err(pos, "a quoted column name is not closed with '`'");
                };
                if len == 0 {
                    return err(pos, "empty quoted column name");
                }
                i = start + len + 1;
                Tok::Name(chars[start..start + len].iter().collect())
            }
            c if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let text: String = chars[start..i].iter().collect();
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => Tok::Num(v),
                    _ => return err(pos, format!("'{text}' is not a number")),
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                Tok::Name(chars[start..i].iter().collect())
            }
            c => return err(pos, format!("unexpected character '{c}'")),
        };
        out.push(Token { tok, pos });
    }
    out.push(Token {
        tok: Tok::End,
        pos: chars.len() + 1,
    });
    Ok(out)
}

/// The parsed expression before names are resolved.
#[derive(Debug, Clone, PartialEq)]
enum Ast {
    Num(f64),
    Name(String, usize),
    Neg(Box<Ast>),
    Bin(BinOp, Box<Ast>, Box<Ast>),
    Call(String, usize, Vec<Ast>),
}

struct Parser {
    toks: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        // `lex` always ends with `End`, and `at` never moves past it.
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::End {
            self.at += 1;
        }
        t
    }

    fn expr(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.term()?;
        while let Tok::Op(c @ ('+' | '-')) = self.peek().tok {
            self.next();
            let right = self.term()?;
            let op = if c == '+' { BinOp::Add } else { BinOp::Sub };
            left = Ast::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Ast, ExprError> {
        let mut left = self.unary()?;
        while let Tok::Op(c @ ('*' | '/')) = self.peek().tok {
            self.next();
            let right = self.unary()?;
            let op = if c == '*' { BinOp::Mul } else { BinOp::Div };
            left = Ast::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn deeper(&mut self, pos: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(
                pos,
                format!("the expression is nested more than {MAX_DEPTH} levels deep"),
            );
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Ast, ExprError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Op(c @ ('-' | '+')) => {
                self.next();
                self.deeper(t.pos)?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(if c == '-' { Ast::Neg(Box::new(inner)) } else { inner })
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Ast, ExprError> {
        let t = self.next();
        match t.tok {
            Tok::Num(v) => Ok(Ast::Num(v)),
            Tok::Name(name) => {
                if self.peek().tok != Tok::Open {
                    return Ok(Ast::Name(name, t.pos));
                }
                let open = self.next();
                self.deeper(open.pos)?;
                let mut args = vec![self.expr()?];
                while self.peek().tok == Tok::Comma {
                    self.next();
                    args.push(self.expr()?);
                }
                self.close(open.pos)?;
                self.depth -= 1;
                Ok(Ast::Call(name, t.pos, args))
            }
            Tok::Open => {
                self.deeper(t.pos)?;
                let inner = self.expr()?;
                self.close(t.pos)?;
                self.depth -= 1;
                Ok(inner)
            }
            other => err(
                t.pos,
                format!("expected a number, a column or '(', found {}", describe(&other)),
            ),
        }
    }

    fn close(&mut self, open_pos: usize) -> Result<(), ExprError> {
        let t = self.next();
        if t.tok == Tok::Close {
            return Ok(());
        }
        err(
            t.pos,
            format!(
                "expected ')' to close the '(' at position {open_pos}, found {}",
                describe(&t.tok)
            ),
        )
    }
}

fn parse(src: &str) -> Result<Ast, ExprError> {
    let mut p = Parser {
        toks: lex(src)?,
        at: 0,
        depth: 0,
    };
    let ast = p.expr()?;
    let t = p.peek().clone();
    if t.tok != Tok::End {
        return err(
            t.pos,
            format!("expected an operator or the end, found {}", describe(&t.tok)),
        );
    }
    Ok(ast)
}

/// What a name in an expression stands for.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    /// An input column (its index among the pipeline's inputs) of this kind.
    Input(usize, InputKind),
    /// An earlier derived column, inlined.
    Derived(Expr),
}

/// Parses `src` and resolves its names with `resolve` (which returns a message for unknown names).
pub(crate) fn compile(src: &str, resolve: &mut dyn FnMut(&str) -> Result<Resolved, String>) -> Result<Expr, ExprError> {
    let ast = parse(src)?;
    lower(&ast, resolve)
}

fn lower(ast: &Ast, resolve: &mut dyn FnMut(&str) -> Result<Resolved, String>) -> Result<Expr, ExprError> {
    Ok(match ast {
        Ast::Num(v) => Expr::Const(F(*v)),
        Ast::Neg(a) => Expr::Neg(Box::new(lower(a, resolve)?)),
        Ast::Bin(op, a, b) => Expr::Bin(*op, Box::new(lower(a, resolve)?), Box::new(lower(b, resolve)?)),
        Ast::Name(name, pos) => match resolve(name) {
            Ok(Resolved::Derived(e)) => e,
            Ok(Resolved::Input(i, InputKind::Number | InputKind::Boolean)) => Expr::Column(i),
            Ok(Resolved::Input(_, InputKind::Temporal)) => {
                return err(
                    *pos,
                    format!("'{name}' is a date; use a date function such as year({name}) or days({name})"),
                )
            }
            Ok(Resolved::Input(_, InputKind::Text)) => {
                return err(
                    *pos,
                    format!("'{name}' is text; expressions take numbers, booleans and dates"),
                )
            }
            Err(message) => return err(*pos, message),
        },
        Ast::Call(name, pos, args) => {
            if let Some(part) = DatePart::from_name(name) {
                let arg = match args.as_slice() {
                    [Ast::Name(arg, arg_pos)] => match resolve(arg) {
                        Ok(Resolved::Input(i, InputKind::Temporal)) => return Ok(Expr::Part(i, part)),
                        Ok(_) => {
                            return err(
                                *arg_pos,
                                format!("{name}() takes a date or timestamp column; '{arg}' is not one"),
                            )
                        }
                        Err(message) => return err(*arg_pos, message),
                    },
                    _ => *pos,
                };
                return err(arg, format!("{name}() takes one date or timestamp column"));
            }
            let Some(func) = Func::from_name(name) else {
                return err(
                    *pos,
                    format!(
                        "unknown function '{name}'; the functions are log, log1p, exp, sqrt, abs, floor, ceil, \
                         round, pow, min, max, year, month, day, weekday, dayofyear, hour, minute, second, days"
                    ),
                );
            };
            if let Err(want) = func.arity(args.len()) {
                return err(*pos, format!("{name}() takes {want}, found {}", args.len()));
            }
            let args = args.iter().map(|a| lower(a, resolve)).collect::<Result<Vec<_>, _>>()?;
            Expr::Call(func, args)
        }
    })
}

/// What an expression reads a block of rows from.
pub(crate) struct Ctx<'v, 'a> {
    pub view: &'v TableView<'a>,
    pub runs: &'v [Run],
    pub scratch: &'v [usize],
}

impl Expr {
    /// Calls `f(input, is_date_part)` for every input the expression reads.
    pub fn visit_inputs(&self, f: &mut dyn FnMut(usize, bool)) {
        match self {
            Expr::Const(_) => {}
            Expr::Column(i) => f(*i, false),
            Expr::Part(i, _) => f(*i, true),
            Expr::Neg(a) => a.visit_inputs(f),
            Expr::Bin(_, a, b) => {
                a.visit_inputs(f);
                b.visit_inputs(f);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.visit_inputs(f)),
        }
    }

    /// Evaluates the expression for the block of rows in `ctx` into `out`.
    pub fn eval(&self, ctx: &Ctx, out: &mut [f64]) {
        match self {
            Expr::Const(c) => out.fill(finite(c.0)),
            Expr::Column(i) => {
                let Some(column) = ctx.view.columns.get(*i) else {
                    out.fill(f64::NAN);
                    return;
                };
                for run in ctx.runs {
                    let chunk = &column[run.chunk];
                    let out = &mut out[run.out.clone()];
                    match run.local {
                        Local::Range(a, b) => fill_f64_range(chunk, a, b, out),
                        Local::List(..) => each_local!(run, ctx.scratch, it => fill_f64(chunk, it, out)),
                    }
                }
            }
            Expr::Part(i, part) => {
                let Some(column) = ctx.view.columns.get(*i) else {
                    out.fill(f64::NAN);
                    return;
                };
                for run in ctx.runs {
                    let chunk = &column[run.chunk];
                    each_local!(run, ctx.scratch, it => fill_part(chunk, *part, it, &mut out[run.out.clone()]));
                }
            }
            Expr::Neg(a) => {
                a.eval(ctx, out);
                out.iter_mut().for_each(|v| *v = -*v);
            }
            Expr::Bin(op, a, b) => {
                a.eval(ctx, out);
                let mut rhs = vec![0.0; out.len()];
                b.eval(ctx, &mut rhs);
                for (x, y) in out.iter_mut().zip(&rhs) {
                    *x = finite(match op {
                        BinOp::Add => *x + y,
                        BinOp::Sub => *x - y,
                        BinOp::Mul => *x * y,
                        BinOp::Div if *y == 0.0 => f64::NAN,
                        BinOp::Div => *x / y,
                    });
                }
            }
            Expr::Call(func, args) => {
                let Some((first, rest)) = args.split_first() else {
                    out.fill(f64::NAN);
                    return;
                };
                first.eval(ctx, out);
                if rest.is_empty() {
                    out.iter_mut().for_each(|v| *v = finite(func.apply1(*v)));
                    return;
                }
                let mut other = vec![0.0; out.len()];
                for arg in rest {
                    arg.eval(ctx, &mut other);
                    for (x, y) in out.iter_mut().zip(&other) {
                        *x = finite(func.apply2(*x, *y));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(name: &str) -> Result<Resolved, String> {
        match name {
            "a" => Ok(Resolved::Input(0, InputKind::Number)),
            "b" => Ok(Resolved::Input(1, InputKind::Number)),
            "d" => Ok(Resolved::Input(2, InputKind::Temporal)),
            "s" => Ok(Resolved::Input(3, InputKind::Text)),
            "my col" => Ok(Resolved::Input(4, InputKind::Boolean)),
            "twice_a" => Ok(Resolved::Derived(Expr::Bin(
                BinOp::Mul,
                Box::new(Expr::Const(F(2.0))),
                Box::new(Expr::Column(0)),
            ))),
            _ => Err(format!("no column '{name}'")),
        }
    }

    fn c(src: &str) -> Result<Expr, ExprError> {
        compile(src, &mut names)
    }

    fn col(i: usize) -> Box<Expr> {
        Box::new(Expr::Column(i))
    }

    #[test]
    fn precedence_and_associativity() {
        use BinOp::*;
        assert_eq!(
            c("a + b * 2").unwrap(),
            Expr::Bin(
                Add,
                col(0),
                Box::new(Expr::Bin(Mul, col(1), Box::new(Expr::Const(F(2.0)))))
            )
        );
        assert_eq!(
            c("a - b - a").unwrap(),
            Expr::Bin(Sub, Box::new(Expr::Bin(Sub, col(0), col(1))), col(0))
        );
        assert_eq!(
            c("(a + b) / a").unwrap(),
            Expr::Bin(Div, Box::new(Expr::Bin(Add, col(0), col(1))), col(0))
        );
        assert_eq!(
            c("-a * b").unwrap(),
            Expr::Bin(Mul, Box::new(Expr::Neg(col(0))), col(1))
        );
        assert_eq!(c("+-a").unwrap(), Expr::Neg(col(0)));
        assert_eq!(c("`my col`").unwrap(), Expr::Column(4));
        assert_eq!(c("1.5e2").unwrap(), Expr::Const(F(150.0)));
        assert_eq!(c(".5").unwrap(), Expr::Const(F(0.5)));
        assert_eq!(c("year(d)").unwrap(), Expr::Part(2, DatePart::Year));
        assert_eq!(
            c("max(a, b, 1)").unwrap(),
            Expr::Call(Func::Max, vec![Expr::Column(0), Expr::Column(1), Expr::Const(F(1.0))])
        );
        let twice = Expr::Bin(Mul, Box::new(Expr::Const(F(2.0))), col(0));
        assert_eq!(
            c("twice_a + 1").unwrap(),
            Expr::Bin(Add, Box::new(twice), Box::new(Expr::Const(F(1.0))))
        );
    }

    #[test]
    fn bad_expressions_say_where() {
        let check = |src: &str, pos: usize, needle: &str| {
            let e = c(src).unwrap_err();
            assert_eq!(e.pos, pos, "{src}: {e:?}");
            assert!(e.message.contains(needle), "{src}: {e:?}");
        };
        check("a +", 4, "found the end");
        check("a + * b", 5, "found '*'");
        check("(a + b", 7, "to close the '(' at position 1");
        check("a b", 3, "expected an operator");
        check("a + c", 5, "no column 'c'");
        check("foo(a)", 1, "unknown function 'foo'");
        check("sqrt(a, b)", 1, "takes 1 argument");
        check("pow(a)", 1, "takes 2 arguments");
        check("min(a)", 1, "at least 2");
        check("a + d", 5, "is a date; use a date function");
        check("s * 2", 1, "is text");
        check("year(a)", 6, "takes a date or timestamp column");
        check("year(d + 1)", 1, "takes one date");
        check("month(zz)", 7, "no column 'zz'");
        check("a # b", 3, "unexpected character '#'");
        check("1.2.3", 1, "not a number");
        check("`open", 1, "not closed");
        check("()", 2, "expected a number");
        check("a)", 2, "expected an operator");
        check("", 1, "found the end");
        // Positions count characters, not bytes.
        check("`é` + ü", 7, "unexpected character 'ü'");
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        check(&deep, 65, "nested more than 64");
        let signs = format!("{}a", "-".repeat(1000));
        assert!(c(&signs).unwrap_err().message.contains("nested"));
    }

    #[test]
    fn functions_on_values() {
        assert_eq!(Func::Log.apply1(std::f64::consts::E), 1.0);
        assert!(Func::Log.apply1(-1.0).is_nan());
        assert_eq!(finite(Func::Log.apply1(0.0)).to_bits(), f64::NAN.to_bits());
        assert_eq!(Func::Log1p.apply1(0.0), 0.0);
        assert_eq!(Func::Exp.apply1(0.0), 1.0);
        assert_eq!(Func::Sqrt.apply1(9.0), 3.0);
        assert!(Func::Sqrt.apply1(-9.0).is_nan());
        assert_eq!(Func::Abs.apply1(-2.5), 2.5);
        assert_eq!(Func::Floor.apply1(-2.5), -3.0);
        assert_eq!(Func::Ceil.apply1(-2.5), -2.0);
        assert_eq!(Func::Round.apply1(2.5), 3.0);
        assert_eq!(Func::Round.apply1(-2.5), -3.0);
        assert_eq!(Func::Pow.apply2(2.0, 10.0), 1024.0);
        assert_eq!(Func::Min.apply2(2.0, -1.0), -1.0);
        assert_eq!(Func::Max.apply2(2.0, -1.0), 2.0);
        assert!(Func::Max.apply2(f64::NAN, 1.0).is_nan());
        assert!(finite(Func::Exp.apply1(1000.0)).is_nan());
    }
}
