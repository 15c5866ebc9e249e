//! The panic strategy a plugin library was built with, read from its ELF
//! dynamic symbol table before `dlopen` runs any of its code.
//!
//! `gatehouse-plugin-api` (from 1.2, see its `panic_strategy` module) exports
//! one marker symbol whose *name* says how the library was compiled:
//! [`UNWIND_MARKER`] or [`ABORT_MARKER`]. Libraries built against the frozen
//! 1.0/1.1 interfaces, or against 1.2 before the marker existed, have neither.

use std::{fs::File, os::unix::fs::FileExt, path::Path};

/// Exported by libraries built with `panic = "unwind"` (the default).
pub(super) const UNWIND_MARKER: &str = "gatehouse_panic_strategy_unwind";
/// Exported by libraries built with `panic = "abort"`.
pub(super) const ABORT_MARKER: &str = "gatehouse_panic_strategy_abort";

/// What a library records about its panic strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanicStrategy {
    /// Panics unwind: the plugin's guards turn them into errors.
    Unwind,
    /// Panics abort the process.
    Abort,
    /// No marker (older interface or SDK) or no readable symbol table.
    Unrecorded,
}

impl PanicStrategy {
    /// As logs and `/config` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unwind => "unwind",
            Self::Abort => "abort",
            Self::Unrecorded => "unrecorded",
        }
    }
}

/// Reads the marker from the library at `path`. Anything unreadable counts as
/// unrecorded: `dlopen` still judges the file.
pub(super) fn panic_strategy(path: &Path) -> PanicStrategy {
    let Ok(file) = File::open(path) else {
        return PanicStrategy::Unrecorded;
    };
    let defined = |name: &str| defines(&file, name).unwrap_or(false);
    if defined(ABORT_MARKER) {
        PanicStrategy::Abort
    } else if defined(UNWIND_MARKER) {
        PanicStrategy::Unwind
    } else {
        PanicStrategy::Unrecorded
    }
}

/// Tables larger than this are not read (a real `.dynsym` is kilobytes).
const MAX_TABLE: u64 = 64 << 20;

/// The layout facts of one ELF class and byte order.
struct Elf<'a> {
    file: &'a File,
    wide: bool,
    big_endian: bool,
}

impl Elf<'_> {
    fn bytes(&self, offset: u64, len: u64) -> Option<Vec<u8>> {
        if len > MAX_TABLE {
            return None;
        }
        let mut buf = vec![0; usize::try_from(len).ok()?];
        self.file.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    }

    fn uint(&self, buf: &[u8], at: usize, size: usize) -> Option<u64> {
        let bytes = buf.get(at..at + size)?;
        let mut value = 0u64;
        for i in 0..size {
            let b = if self.big_endian {
                bytes[i]
            } else {
                bytes[size - 1 - i]
            };
            value = (value << 8) | u64::from(b);
        }
        Some(value)
    }

    /// A word-sized field: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, buf: &[u8], at64: usize, at32: usize) -> Option<u64> {
        if self.wide {
            self.uint(buf, at64, 8)
        } else {
            self.uint(buf, at32, 4)
        }
    }
}

/// Whether `file` defines the dynamic symbol `name` (`None`: unreadable).
fn defines(file: &File, name: &str) -> Option<bool> {
    let mut ident = [0u8; 6];
    file.read_exact_at(&mut ident, 0).ok()?;
    if &ident[..4] != b"\x7fELF" {
        return None;
    }
    let elf = Elf {
        file,
        wide: ident[4] == 2,
        big_endian: ident[5] == 2,
    };
    let header = elf.bytes(0, if elf.wide { 64 } else { 52 })?;
    let shoff = elf.word(&header, 0x28, 0x20)?;
    let (entsize_at, num_at) = if elf.wide { (0x3a, 0x3c) } else { (0x2e, 0x30) };
    let shentsize = elf.uint(&header, entsize_at, 2)?;
    let shnum = elf.uint(&header, num_at, 2)?;
    if shoff == 0 || shentsize == 0 {
        return None;
    }
    let sections = elf.bytes(shoff, shentsize.checked_mul(shnum)?)?;
    let section = |i: u64| -> Option<&[u8]> {
        let start = usize::try_from(i.checked_mul(shentsize)?).ok()?;
        sections.get(start..start + usize::try_from(shentsize).ok()?)
    };
    // sh_type, sh_offset, sh_size, sh_link, sh_entsize.
    let fields = |s: &[u8]| -> Option<(u64, u64, u64, u64, u64)> {
        Some((
            elf.uint(s, 4, 4)?,
            elf.word(s, 24, 16)?,
            elf.word(s, 32, 20)?,
            elf.uint(s, if elf.wide { 40 } else { 24 }, 4)?,
            elf.word(s, 56, 36)?,
        ))
    };
    const SHT_DYNSYM: u64 = 11;
    for i in 0..shnum {
        let (kind, offset, size, link, entsize) = fields(section(i)?)?;
        if kind != SHT_DYNSYM || entsize == 0 {
            continue;
        }
        let (_, str_offset, str_size, _, _) = fields(section(link)?)?;
        let strings = elf.bytes(str_offset, str_size)?;
        let symbols = elf.bytes(offset, size)?;
        let entsize = usize::try_from(entsize).ok()?;
        let (name_at, shndx_at) = if elf.wide { (0, 6) } else { (0, 14) };
        for symbol in symbols.chunks_exact(entsize) {
            let defined = elf.uint(symbol, shndx_at, 2)? != 0;
            let start = usize::try_from(elf.uint(symbol, name_at, 4)?).ok()?;
            let text = strings.get(start..)?;
            let text = &text[..text.iter().position(|&b| b == 0)?];
            if defined && text == name.as_bytes() {
                return Some(true);
            }
        }
        return Some(false);
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_has_no_marker_and_a_text_file_is_unrecorded() {
        // An executable exports no marker; a non-ELF file is simply unrecorded.
        let exe = std::env::current_exe().expect("test binary");
        assert_eq!(panic_strategy(&exe), PanicStrategy::Unrecorded);
        let text = std::env::temp_dir().join(format!("gatehouse-sym-{}", std::process::id()));
        std::fs::write(&text, b"not a library").expect("write");
        assert_eq!(panic_strategy(&text), PanicStrategy::Unrecorded);
        let _ = std::fs::remove_file(&text);
    }

    #[test]
    fn finds_a_defined_dynamic_symbol_of_a_real_library() {
        // libc is in every process and defines `malloc` in its .dynsym.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let Some(libc) = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
        else {
            return; // statically linked: nothing to read
        };
        let file = File::open(libc).expect("open libc");
        assert_eq!(defines(&file, "malloc"), Some(true));
        assert_eq!(defines(&file, UNWIND_MARKER), Some(false));
    }
}
