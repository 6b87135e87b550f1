// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! The ABI agrees with uapi/linux/mpsc.h, compiled by cc.

use std::process::Command;

#[test]
fn ioctl_numbers_match_header() {
    let dir = std::env::temp_dir().join(format!("mpsc-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("probe.c");
    std::fs::write(
        &src,
        r#"#include <stdio.h>
#include <linux/mpsc.h>
int main(void) {
	printf("%llu %llu %zu %d %zu\n", (unsigned long long)MPSC_IOC_SEND,
	       (unsigned long long)MPSC_IOC_INFO, sizeof(struct mpsc_info),
	       MPSC_MAX_HANDLES, sizeof(struct mpsc_rec));
	return 0;
}"#,
    )
    .unwrap();
    let uapi = concat!(env!("CARGO_MANIFEST_DIR"), "/../../uapi");
    let exe = dir.join("probe");
    let st = Command::new("cc").args(["-I", uapi, "-o"]).arg(&exe).arg(&src).status().unwrap();
    assert!(st.success());
    let out = String::from_utf8(Command::new(&exe).output().unwrap().stdout).unwrap();
    let v: Vec<u64> = out.split_whitespace().map(|s| s.parse().unwrap()).collect();
    let send = (3u64 << 30) | (48 << 16) | (0xB8 << 8) | 0x07;
    let info = (3u64 << 30) | (128 << 16) | (0xB8 << 8) | 0x03;
    assert_eq!(v, vec![send, info, 128, mpsc_dev::MAX_HANDLES as u64, 8]);
    assert_eq!(std::mem::size_of::<mpsc_dev::Info>(), 128);
    std::fs::remove_dir_all(&dir).unwrap();
}
