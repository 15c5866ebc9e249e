use crate::redis::{encode, Redis};

#[test]
fn commands_are_resp_arrays_of_bulk_strings() {
    assert_eq!(
        encode(&["SET", "k", "v v", "EX", "60"]),
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv v\r\n$2\r\nEX\r\n$2\r\n60\r\n".to_vec()
    );
}

#[test]
fn replies_from_a_scripted_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    gatehouse_plugin_sdk::testing::block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 512];
            for reply in [
                &b"+OK\r\n"[..],
                b"$5\r\nhello\r\n",
                b"$-1\r\n",
                b":1\r\n",
                b"-ERR no\r\n",
            ] {
                let _ = s.read(&mut buf).await;
                s.write_all(reply).await.expect("write");
            }
        });
        let r = Redis::new(&address, std::time::Duration::from_secs(2));
        assert_eq!(r.set("k", "hello", 60).await, Ok(()));
        assert_eq!(r.get("k").await, Ok(Some("hello".into())));
        assert_eq!(r.get("gone").await, Ok(None));
        assert_eq!(r.del("k").await, Ok(()));
        assert!(r.get("k").await.unwrap_err().contains("ERR no"));
    });
}
