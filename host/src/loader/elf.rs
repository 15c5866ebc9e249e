//! A plugin file's first bytes, read before dlopen sees it.
//!
//! dlopen's own words do not say what is wrong: a text file is `invalid ELF
//! header` or `file too short`, and a library built for another architecture is
//! `cannot open shared object file: No such file or directory`. This check
//! reads the ELF header and names the problem (not a library at all, a static
//! archive, an executable, another architecture). It refuses only files dlopen
//! would refuse too; anything that passes still goes to dlopen.

use std::{io::Read, path::Path};

/// ELF `e_type` of a shared object (also of a PIE executable, which dlopen then refuses).
const ET_DYN: u16 = 3;

/// Checks that `path` starts like a shared library this host can load. `Err`
/// holds a reason a plugin author can act on.
pub(super) fn check(path: &Path) -> Result<(), String> {
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| format!("cannot read the file: {e}"))?;
    check_header(&head)
}

/// The check on the first (up to 64) bytes of a file.
fn check_header(head: &[u8]) -> Result<(), String> {
    if head.is_empty() {
        return Err("not a shared library: the file is empty".into());
    }
    if !head.starts_with(b"\x7fELF") {
        return Err(format!("not a shared library: {}", what_is(head)));
    }
    if head.len() < 20 {
        return Err("not a shared library: the ELF header is truncated".into());
    }
    let found = Arch {
        class: head[4],
        little_endian: head[5] == 1,
        machine: u16_at(head, 18),
    };
    if let Some(host) = Arch::host() {
        if found != host {
            let (mut plugin, mut this) = (found.name(), host.name());
            if plugin == this {
                // Same machine, other byte order or word size: say which.
                plugin = found.detailed_name();
                this = host.detailed_name();
            }
            return Err(format!(
                "built for {plugin}, this host is {this}: rebuild the plugin for {this}"
            ));
        }
    }
    match u16_at(head, 16) {
        ET_DYN => Ok(()),
        1 => Err(format!(
            "not a shared library: it is an object file (.o); {CDYLIB}"
        )),
        2 => Err(format!(
            "not a shared library: it is an executable; {CDYLIB}"
        )),
        4 => Err("not a shared library: it is a core dump".into()),
        other => Err(format!("not a shared library: ELF file type {other}")),
    }
}

/// How to build a plugin as a shared library.
const CDYLIB: &str = "build the plugin crate with crate-type = [\"cdylib\"]";

/// Describes a file that is not ELF.
fn what_is(head: &[u8]) -> String {
    const MACH_O: [[u8; 4]; 4] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    if head.starts_with(b"!<arch>\n") {
        return format!("it is a static archive (.a/.rlib); {CDYLIB}");
    }
    if MACH_O.iter().any(|m| head.starts_with(m)) || head.starts_with(&[0xca, 0xfe, 0xba, 0xbe]) {
        return "it is a macOS (Mach-O) binary; build the plugin for Linux".into();
    }
    if head.starts_with(b"MZ") {
        return "it is a Windows (PE) binary; build the plugin for Linux".into();
    }
    if head.starts_with(b"\0asm") {
        return "it is a WebAssembly module; build the plugin for Linux".into();
    }
    match std::str::from_utf8(head) {
        // A multi-byte character cut at byte 64 still counts as text.
        Ok(text) => text_file(text),
        Err(e) if e.error_len().is_none() => text_file(&String::from_utf8_lossy(head)),
        Err(_) => "it has no ELF header".into(),
    }
}

fn text_file(text: &str) -> String {
    if text
        .chars()
        .any(|c| c.is_control() && !c.is_ascii_whitespace())
    {
        return "it has no ELF header".into();
    }
    let first_line: String = text.lines().next().unwrap_or("").chars().take(40).collect();
    format!("it is a text file (starting {first_line:?})")
}

fn u16_at(head: &[u8], at: usize) -> u16 {
    let bytes = [head[at], head[at + 1]];
    if head[5] == 2 {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    }
}

/// What the ELF header says a file runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arch {
    /// `EI_CLASS`: 1 for 32-bit, 2 for 64-bit.
    class: u8,
    little_endian: bool,
    /// `e_machine`.
    machine: u16,
}

impl Arch {
    /// This host's, when it is a platform whose libraries are ELF files.
    fn host() -> Option<Self> {
        if !cfg!(any(target_os = "linux", target_os = "android")) {
            return None;
        }
        let machine = match std::env::consts::ARCH {
            "x86_64" => 62,
            "x86" => 3,
            "aarch64" => 183,
            "arm" => 40,
            "riscv64" | "riscv32" => 243,
            "powerpc64" => 21,
            "powerpc" => 20,
            "s390x" => 22,
            "loongarch64" => 258,
            "mips" | "mips64" => 8,
            _ => return None,
        };
        Some(Self {
            class: if cfg!(target_pointer_width = "64") {
                2
            } else {
                1
            },
            little_endian: cfg!(target_endian = "little"),
            machine,
        })
    }

    /// A name people know the architecture by (as Rust's `target_arch` spells it).
    fn name(self) -> String {
        let name = match (self.machine, self.class == 2) {
            (62, true) => "x86_64",
            (62, false) => "x86_64 (x32 ABI)",
            (3, _) => "x86 (32-bit)",
            (183, _) => "aarch64",
            (40, _) => "arm (32-bit)",
            (243, true) => "riscv64",
            (243, false) => "riscv32",
            (21, _) if self.little_endian => "powerpc64le",
            (21, _) => "powerpc64",
            (20, _) => "powerpc (32-bit)",
            (22, _) => "s390x",
            (258, _) => "loongarch64",
            (8, true) => "mips64",
            (8, false) => "mips",
            (2, _) => "sparc",
            (43, _) => "sparc64",
            (machine, _) => return format!("ELF machine {machine}"),
        };
        name.to_string()
    }

    /// The name with word size and byte order spelled out.
    fn detailed_name(self) -> String {
        let bits = if self.class == 2 { 64 } else { 32 };
        let order = if self.little_endian { "little" } else { "big" };
        format!("{} ({bits}-bit, {order}-endian)", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-byte ELF header (64-bit, little-endian) of `e_type`/`e_machine`.
    fn elf(e_type: u16, machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[6] = 1;
        h[16..18].copy_from_slice(&e_type.to_le_bytes());
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    fn host_machine() -> u16 {
        Arch::host().expect("tests run on an ELF platform").machine
    }

    fn other_machine() -> (u16, &'static str) {
        if host_machine() == 183 {
            (62, "x86_64")
        } else {
            (183, "aarch64")
        }
    }

    #[test]
    fn a_shared_library_for_this_host_passes() {
        assert_eq!(check_header(&elf(ET_DYN, host_machine())), Ok(()));
    }

    #[test]
    fn another_architecture_is_named_with_the_hosts() {
        let (machine, name) = other_machine();
        let err = check_header(&elf(ET_DYN, machine)).unwrap_err();
        let host = std::env::consts::ARCH;
        assert_eq!(
            err,
            format!("built for {name}, this host is {host}: rebuild the plugin for {host}")
        );
    }

    #[test]
    fn non_libraries_say_what_they_are() {
        let err = |bytes: &[u8]| check_header(bytes).unwrap_err();
        assert_eq!(err(b""), "not a shared library: the file is empty");
        assert_eq!(
            err(b"hello\nworld"),
            "not a shared library: it is a text file (starting \"hello\")"
        );
        assert!(err(b"!<arch>\nfoo").contains("static archive"));
        assert!(err(b"MZ\x90\0").contains("Windows (PE)"));
        assert!(err(&[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]).contains("Mach-O"));
        assert!(err(&[0x00, 0x01, 0x02, 0xff]).ends_with("it has no ELF header"));
        assert!(err(b"\x7fELF\x02\x01").contains("truncated"));
        let exe = err(&elf(2, host_machine()));
        assert!(
            exe.contains("executable") && exe.contains("cdylib"),
            "{exe}"
        );
        assert!(err(&elf(1, host_machine())).contains("object file"));
    }

    #[test]
    fn reads_the_real_file() {
        let exe = std::env::current_exe().expect("test binary");
        // The test binary is an executable (PIE executables are ET_DYN, so both
        // answers are possible): the point is that it was read and is native.
        if let Err(e) = check(&exe) {
            assert!(e.contains("executable"), "{e}");
        }
        let missing = check(Path::new("/nonexistent/plugin.so")).unwrap_err();
        assert!(missing.starts_with("cannot read the file"), "{missing}");
    }
}
