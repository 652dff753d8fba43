//! bench/run.sh's fast S3 server (for the large-object reads, and the uploads beside moto's):
//! s3s-fs (the s3s crate's file-system store), served as its own binary serves it but with two
//! differences that S3 itself does not have and that would otherwise be measured instead of
//! the clients.
//!
//! - s3s-fs's binary leaves Nagle's algorithm on. At the end of each answer the last short
//!   segment then waits for the client's ACK, which Linux delays by 40 ms, so every GET costs
//!   40 ms more than its bytes: one stream pays it once, 1 GiB in 4 MiB ranges 256 times
//!   (two connections took 14.2 s instead of 5.6 s, the same run with `quickack` set on the
//!   loopback route). Here every connection sets TCP_NODELAY.
//! - s3s-fs reads an object 4 KiB at a time through `tokio::fs` (a hop to the blocking pool
//!   for each read), each read a write to the socket of its own: 3 s of its CPU per GiB in
//!   one run, 7 to 12 s in the next. Here GET bodies are read and sent a MiB at a time.
//!
//! Usage: `s3s-server --port PORT --access-key K --secret-key S ROOT` (127.0.0.1 only).
#![forbid(unsafe_code)]

use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures_core::Stream;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use s3s_fs::FileSystem;
use tokio::net::TcpListener;

/// How much of the file one read takes (and one write to the socket sends).
const PIECE: usize = 1 << 20;

/// s3s-fs, with GET bodies read as [`file_pieces`]; every other operation the benchmark uses
/// as is.
struct Store {
    fs: FileSystem,
    root: PathBuf,
}

/// The operations salesapp, the engine and the upload peers call, handed to s3s-fs unchanged.
/// Written as `#[async_trait]` expands a method, since it does not see into a macro's output.
macro_rules! as_is {
    ($($op:ident: $input:ty => $output:ty;)*) => {$(
        fn $op<'life0, 'async_trait>(
            &'life0 self,
            req: S3Request<$input>,
        ) -> Pin<Box<dyn Future<Output = S3Result<S3Response<$output>>> + Send + 'async_trait>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            self.fs.$op(req)
        }
    )*};
}

#[async_trait::async_trait]
impl S3 for Store {
    /// s3s-fs answers (its checks, headers, range), then the body it would have sent is
    /// replaced by the same bytes read in large pieces.
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        if req.input.key.split('/').any(|part| part == "..") {
            return Err(s3_error!(InvalidArgument));
        }
        let path = self.root.join(&req.input.bucket).join(&req.input.key);
        let mut answer = self.fs.get_object(req).await?;
        let output = &mut answer.output;
        let from = match &output.content_range {
            Some(range) => range_start(range).ok_or_else(|| s3_error!(InternalError))?,
            None => 0,
        };
        let len = output.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        output.body = Some(StreamingBlob::wrap(file_pieces(path, from, len)));
        Ok(answer)
    }
    as_is! {
        head_object: HeadObjectInput => HeadObjectOutput;
        head_bucket: HeadBucketInput => HeadBucketOutput;
        create_bucket: CreateBucketInput => CreateBucketOutput; // rclone's, before it writes
        put_object: PutObjectInput => PutObjectOutput;
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
        upload_part: UploadPartInput => UploadPartOutput;
        complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput;
        abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
    }
}

/// `bytes START-END/TOTAL` → START.
fn range_start(content_range: &str) -> Option<u64> {
    content_range.strip_prefix("bytes ")?.split('-').next()?.parse().ok()
}

/// `len` bytes of the file at `path` from `from` on, read a [`PIECE`] at a time on a
/// thread of its own: s3s-fs reads 4 KiB at a time through `tokio::fs`, one hop to the
/// blocking pool per read, and that took 3 to 12 s of CPU per GiB from one run to the next.
fn file_pieces(path: PathBuf, from: u64, len: u64) -> Pieces {
    let (send, receive) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let read = |send: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>| {
            let mut file = std::fs::File::open(&path)?;
            file.seek(SeekFrom::Start(from))?;
            let mut file = file.take(len);
            loop {
                let mut piece = Vec::with_capacity(PIECE);
                (&mut file).take(PIECE as u64).read_to_end(&mut piece)?;
                if piece.is_empty() {
                    return Ok(());
                }
                if send.blocking_send(Ok(Bytes::from(piece))).is_err() {
                    return Ok(()); // the client went away
                }
            }
        };
        if let Err(e) = read(&send) {
            let _ = send.blocking_send(Err(e));
        }
    });
    Pieces(receive)
}

struct Pieces(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl Stream for Pieces {
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_recv(cx)
    }
}

struct Options {
    port: u16,
    access_key: String,
    secret_key: String,
    root: PathBuf,
}

fn options() -> Result<Options> {
    let (mut port, mut access_key, mut secret_key, mut root) = (None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = Some(value()?.parse().context("--port")?),
            "--access-key" => access_key = Some(value()?),
            "--secret-key" => secret_key = Some(value()?),
            _ if arg.starts_with("--") => bail!("unknown option {arg}"),
            _ => root = Some(PathBuf::from(arg)),
        }
    }
    let usage = "usage: s3s-server --port PORT --access-key K --secret-key S ROOT";
    match (port, access_key, secret_key, root) {
        (Some(port), Some(access_key), Some(secret_key), Some(root)) => {
            Ok(Options { port, access_key, secret_key, root })
        }
        _ => bail!(usage),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = options()?;
    let root = options.root.canonicalize().with_context(|| options.root.display().to_string())?;
    let fs = FileSystem::new(&root).map_err(|e| anyhow::anyhow!("{}: {e:?}", root.display()))?;
    let mut service = S3ServiceBuilder::new(Store { fs, root });
    service.set_auth(SimpleAuth::from_single(options.access_key, options.secret_key));
    let service = service.build();

    let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
    let http = ConnBuilder::new(TokioExecutor::new());
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    eprintln!("s3s-server: accept: {e}");
                    continue;
                }
            },
            _ = stop.as_mut() => return Ok(()),
        };
        if let Err(e) = socket.set_nodelay(true) {
            eprintln!("s3s-server: TCP_NODELAY: {e}");
        }
        let connection = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}
