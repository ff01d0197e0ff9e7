//! Procedure names: `package.Service/Method`.

use std::fmt;
use std::sync::Arc;

/// A fully qualified procedure name such as `greeter.v1.GreeterService/SayHello`.
///
/// Cloning is cheap (a reference count), so the codec hands every request a clone of the
/// router's copy instead of allocating one per call.
///
/// ```
/// use interceptor_bench::rpc::Procedure;
///
/// let procedure = Procedure::parse("greeter.v1.GreeterService/SayHello").unwrap();
/// assert_eq!(procedure.service(), "greeter.v1.GreeterService");
/// assert_eq!(procedure.method(), "SayHello");
/// assert!(Procedure::parse("no-slash").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Procedure {
    name: Arc<str>,
    slash: usize,
}

/// The error for a string that is not `package.Service/Method`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid procedure {0:?}: expected package.Service/Method")]
pub struct InvalidProcedure(pub String);

impl Procedure {
    /// Parses `package.Service/Method`; both sides must be non-empty and the service must
    /// contain a package (a dot).
    pub fn parse(name: &str) -> Result<Self, InvalidProcedure> {
        let invalid = || InvalidProcedure(name.to_owned());
        let slash = name.find('/').ok_or_else(invalid)?;
        let (service, method) = (&name[..slash], &name[slash + 1..]);
        let well_formed = !method.is_empty()
            && !method.contains('/')
            && service.contains('.')
            && !service.starts_with('.')
            && !service.ends_with('.');
        if !well_formed {
            return Err(invalid());
        }
        Ok(Procedure { name: Arc::from(name), slash })
    }

    /// The whole name, `package.Service/Method`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The fully qualified service, `package.Service`.
    pub fn service(&self) -> &str {
        &self.name[..self.slash]
    }

    /// The method, `Method`.
    pub fn method(&self) -> &str {
        &self.name[self.slash + 1..]
    }
}

impl fmt::Display for Procedure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for Procedure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.name, f)
    }
}
