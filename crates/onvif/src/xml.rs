//! A small namespace-resolved element tree over `quick-xml`'s `NsReader`.
//!
//! Why a tree and not serde: every vendor picks its own prefixes (`tev:`, `ns5:`,
//! none at all with a default namespace) and adds elements of its own, so the
//! parsers match on (namespace URI, local name) and skip what they do not know.
//! Replies are small (a PullMessages answer with 10 events is a few KiB), so
//! building the whole tree costs nothing worth measuring.
//!
//! Strict about well-formedness: mismatched or unclosed tags, undeclared prefixes,
//! unknown entities, a DTD, two roots or text outside the root are errors.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{QName, ResolveResult};
use quick_xml::NsReader;

use crate::Error;

/// One element: its resolved name, attributes, text and children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub ns: Option<String>,
    pub local: String,
    /// (namespace, local name, value); `xmlns` declarations are not kept.
    pub attrs: Vec<(Option<String>, String, String)>,
    /// The concatenated character data directly inside this element.
    pub text: String,
    /// For QName-valued text (`tns1:RuleEngine/...`, `ter:NotAuthorized`): the
    /// namespace its prefix is bound to where it appears, when it has one.
    pub text_ns: Option<String>,
    pub children: Vec<Element>,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    /// The first child with this namespace and local name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// All children with this namespace and local name.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// The first child with this local name, whatever its namespace: for the few
    /// places where cameras disagree on the namespace itself.
    pub fn child_local(&self, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local == local)
    }

    /// Follows a path of (namespace, local name) steps from this element.
    pub fn path(&self, steps: &[(&str, &str)]) -> Option<&Element> {
        let mut at = self;
        for (ns, local) in steps {
            at = at.child(ns, local)?;
        }
        Some(at)
    }

    /// An attribute without a namespace (as ONVIF's `Name`, `Value`, `UtcTime`).
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(ns, l, _)| ns.is_none() && l == local)
            .map(|(_, _, v)| v.as_str())
    }

    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }

    /// Writes this element back as XML, declaring every namespace it uses on
    /// the element itself (`n0`, `n1`, …) so the fragment stands alone: used to
    /// echo a subscription's WS-Addressing reference parameters as headers.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    fn write_xml(&self, out: &mut String) {
        // The namespaces this element and its attributes use, in order.
        let mut decls: Vec<&str> = Vec::new();
        let used = self
            .ns
            .iter()
            .chain(self.attrs.iter().filter_map(|(ns, _, _)| ns.as_ref()));
        for ns in used {
            if !decls.contains(&ns.as_str()) {
                decls.push(ns);
            }
        }
        let qname = |ns: Option<&str>, local: &str| match ns {
            Some(ns) => {
                let i = decls.iter().position(|d| *d == ns).unwrap_or(0);
                format!("n{i}:{local}")
            }
            None => local.to_owned(),
        };
        let name = qname(self.ns.as_deref(), &self.local);
        out.push('<');
        out.push_str(&name);
        for (i, ns) in decls.iter().enumerate() {
            out.push_str(&format!(" xmlns:n{i}=\"{}\"", escape(ns)));
        }
        for (ns, local, value) in &self.attrs {
            out.push_str(&format!(
                " {}=\"{}\"",
                qname(ns.as_deref(), local),
                escape(value)
            ));
        }
        out.push('>');
        out.push_str(&escape(&self.text));
        for child in &self.children {
            child.write_xml(out);
        }
        out.push_str("</");
        out.push_str(&name);
        out.push('>');
    }
}

/// Escapes text for element content and double-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn malformed(what: impl std::fmt::Display) -> Error {
    Error::Malformed(what.to_string())
}

fn resolved(ns: ResolveResult<'_>, name: &str) -> Result<Option<String>, Error> {
    match ns {
        ResolveResult::Bound(ns) => Ok(Some(String::from(ns.as_ref()))),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(malformed(format!(
            "the prefix `{prefix}` of <{name}> is not declared"
        ))),
    }
}

fn open(
    reader: &NsReader<&[u8]>,
    ns: Option<String>,
    start: &BytesStart,
) -> Result<Element, Error> {
    let name = start.name();
    let local = name.local_name().as_ref().to_owned();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let (ans, alocal) = reader.resolver().resolve_attribute(attr.key);
        let ans = resolved(ans, attr.key.as_ref())?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(malformed)?
            .into_owned();
        attrs.push((ans, alocal.as_ref().to_owned(), value));
    }
    Ok(Element {
        ns,
        local,
        attrs,
        text: String::new(),
        text_ns: None,
        children: Vec::new(),
    })
}

/// Parses a whole document into its root element.
pub(crate) fn parse(xml: &str) -> Result<Element, Error> {
    let mut reader = NsReader::from_reader(xml.as_bytes());
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let position = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(format!("{e} (after byte {position})")))?;
        let ns = match &event {
            Event::Start(s) | Event::Empty(s) => resolved(ns, s.name().as_ref())?,
            _ => None,
        };
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(malformed("a second root element"));
                }
                let element = open(&reader, ns, &start)?;
                stack.push(element);
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err(malformed("a second root element"));
                }
                let element = open(&reader, ns, &start)?;
                close(&reader, element, &mut stack, &mut root);
            }
            Event::End(_) => {
                // quick-xml has already checked that the name matches.
                let element = stack
                    .pop()
                    .ok_or_else(|| malformed("a closing tag with no opening tag"))?;
                close(&reader, element, &mut stack, &mut root);
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                push_text(&mut stack, &content)?;
            }
            Event::CData(data) => {
                let content = data.into_inner().into_owned();
                push_text(&mut stack, &content)?;
            }
            Event::GeneralRef(reference) => {
                let ch = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(ch) => ch.to_string(),
                    None => match reference.as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => return Err(malformed(format!("unknown entity &{other};"))),
                    },
                };
                push_text(&mut stack, &ch)?;
            }
            Event::DocType(_) => return Err(malformed("a DTD, which SOAP forbids")),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(malformed(format!(
            "the reply ends inside <{}> (truncated?)",
            open.local
        )));
    }
    root.ok_or_else(|| malformed("no element at all (an empty reply)"))
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), Error> {
    match stack.last_mut() {
        Some(element) => element.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(malformed("text outside the root element")),
    }
    Ok(())
}

fn close(
    reader: &NsReader<&[u8]>,
    mut element: Element,
    stack: &mut [Element],
    root: &mut Option<Element>,
) {
    // QName-valued text: resolve its prefix while the element's scope is open.
    if matches!(element.local.as_str(), "Topic" | "Value") {
        let text = element.text.trim();
        if let Some(prefix) = QName(text).prefix() {
            if let ResolveResult::Bound(ns) = reader.resolver().resolve_prefix(Some(prefix), false)
            {
                element.text_ns = Some(String::from(ns.as_ref()));
            }
        }
    }
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_prefixes_and_default_namespaces() {
        let root = parse(
            r#"<?xml version="1.0"?><a:Env xmlns:a="urn:a" xmlns="urn:d"><B x="1" a:y="&lt;2&gt;">t&amp;&#65;<![CDATA[<c>]]></B><a:C/></a:Env>"#,
        )
        .unwrap();
        assert!(root.is("urn:a", "Env"));
        let b = root.child("urn:d", "B").unwrap();
        assert_eq!(b.attr("x"), Some("1"));
        assert_eq!(b.attrs[1], (Some("urn:a".into()), "y".into(), "<2>".into()));
        assert_eq!(b.text, "t&A<c>");
        assert!(root.child("urn:a", "C").is_some());
    }

    #[test]
    fn rejects_what_is_not_well_formed() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<p:a/>",
            "<a>&nbsp;</a>",
            "<a x=1/>",
            "text<a/>",
            "<!DOCTYPE a><a/>",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::Malformed(_))),
                "accepted {bad:?}"
            );
        }
    }

    #[test]
    fn fragments_stand_alone() {
        let root =
            parse(r#"<w:R xmlns:w="urn:w"><d:Id xmlns:d="urn:d" d:k="v">7</d:Id></w:R>"#).unwrap();
        let id = &root.children[0];
        assert_eq!(id.to_xml(), r#"<n0:Id xmlns:n0="urn:d" n0:k="v">7</n0:Id>"#);
        assert_eq!(parse(&id.to_xml()).unwrap(), *id);
    }
}
