//! Gloo's `spec.booleanExpr`: step names combined with `&&`, `||`, `!` and
//! parentheses, e.g. `(basic || apikey) && policy`. `!` binds tightest, then
//! `&&`, then `||`; evaluation is left to right and short-circuits, so a step
//! whose value cannot change the result is never called.

/// A parsed expression over step indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// The step at this index of the chain allows.
    Step(usize),
    /// Negation.
    Not(Box<Expr>),
    /// Both, the right one only if the left allowed.
    And(Box<Expr>, Box<Expr>),
    /// Either, the right one only if the left did not allow.
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// True when the expression reads step `index`.
    pub fn names_step(&self, index: usize) -> bool {
        match self {
            Expr::Step(i) => *i == index,
            Expr::Not(e) => e.names_step(index),
            Expr::And(a, b) | Expr::Or(a, b) => a.names_step(index) || b.names_step(index),
        }
    }
}

/// Why an expression was refused; `position` is a character offset (from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("booleanExpr at position {position}: {message}")]
pub struct ExprError {
    /// 1-based character position in the expression.
    pub position: usize,
    /// What is wrong there.
    pub message: String,
}

/// Deepest nesting accepted (the parser recurses; configs are operator input,
/// but a runaway file must not overflow the stack).
const MAX_DEPTH: usize = 64;

/// Parses `text`, resolving each name with `lookup` (name → step index).
pub fn parse(text: &str, lookup: impl Fn(&str) -> Option<usize>) -> Result<Expr, ExprError> {
    let mut parser = Parser {
        chars: text.char_indices().collect(),
        at: 0,
        lookup: &lookup,
    };
    let expr = parser.or(0)?;
    parser.skip_space();
    match parser.peek() {
        None => Ok(expr),
        Some(c) => Err(parser.error(format!("unexpected `{c}`"))),
    }
}

struct Parser<'l> {
    chars: Vec<(usize, char)>,
    at: usize,
    lookup: &'l dyn Fn(&str) -> Option<usize>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|(_, c)| *c)
    }

    fn error(&self, message: String) -> ExprError {
        ExprError {
            position: self.at + 1,
            message,
        }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// Consumes `op` (after spaces) if it comes next.
    fn eat(&mut self, op: &str) -> bool {
        self.skip_space();
        let ahead: String = self.chars[self.at..]
            .iter()
            .take(op.len())
            .map(|(_, c)| c)
            .collect();
        if ahead == op {
            self.at += op.chars().count();
            true
        } else {
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut left = self.and(depth)?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut left = self.unary(depth)?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ExprError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH}")));
        }
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary(depth + 1)?)));
        }
        if self.eat("(") {
            let inner = self.or(depth + 1)?;
            if !self.eat(")") {
                return Err(self.error("expected `)`".into()));
            }
            return Ok(inner);
        }
        self.name()
    }

    fn name(&mut self) -> Result<Expr, ExprError> {
        self.skip_space();
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'))
        {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().map(|(_, c)| c).collect();
        if name.is_empty() {
            return Err(match self.peek() {
                Some(c) => self.error(format!("expected a config name, found `{c}`")),
                None => self.error("expected a config name, found the end".into()),
            });
        }
        match (self.lookup)(&name) {
            Some(index) => Ok(Expr::Step(index)),
            None => Err(ExprError {
                position: start + 1,
                message: format!("no config named '{name}' in spec.configs"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(name: &str) -> Option<usize> {
        ["basic", "apikey", "policy", "jwt-1"]
            .iter()
            .position(|n| *n == name)
    }

    fn step(i: usize) -> Box<Expr> {
        Box::new(Expr::Step(i))
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        assert_eq!(
            parse("basic || apikey && !policy", names),
            Ok(Expr::Or(
                step(0),
                Box::new(Expr::And(step(1), Box::new(Expr::Not(step(2)))))
            ))
        );
        assert_eq!(
            parse(" ( basic||apikey ) && policy ", names),
            Ok(Expr::And(Box::new(Expr::Or(step(0), step(1))), step(2)))
        );
        assert_eq!(
            parse("!!jwt-1", names),
            Ok(Expr::Not(Box::new(Expr::Not(step(3)))))
        );
    }

    #[test]
    fn errors_give_the_position() {
        let error = |text| parse(text, names).unwrap_err().to_string();
        assert_eq!(
            error("basic || oidc"),
            "booleanExpr at position 10: no config named 'oidc' in spec.configs"
        );
        assert_eq!(
            error("(basic || apikey"),
            "booleanExpr at position 17: expected `)`"
        );
        assert_eq!(
            error("basic apikey"),
            "booleanExpr at position 7: unexpected `a`"
        );
        assert_eq!(
            error("basic &&"),
            "booleanExpr at position 9: expected a config name, found the end"
        );
        assert_eq!(
            error("basic & apikey"),
            "booleanExpr at position 7: unexpected `&`"
        );
        assert!(error(&"(".repeat(100)).contains("nested deeper than 64"));
    }
}
