// tus-js-client (Node) driven by tests/tus.rs: uploads one file and prints one JSON line.
// Usage: node client.mjs ENDPOINT FILE TOKEN FILETYPE CHUNK_SIZE [OPTIONS_JSON]
// OPTIONS_JSON: {"filename", "deferred": bool, "retryDelays": [ms…]}
import fs from 'node:fs'
import * as tus from 'tus-js-client'

const [endpoint, file, token, filetype, chunkSize, extra] = process.argv.slice(2)
const opts = JSON.parse(extra || '{}')
const data = fs.readFileSync(file)
const requests = []
let sha256 = null
const out = (o) => {
  console.log(JSON.stringify({ ...o, requests }))
  process.exit(0)
}
const upload = new tus.Upload(data, {
  endpoint,
  chunkSize: Number(chunkSize) || Infinity,
  retryDelays: opts.retryDelays ?? [0, 200, 500, 1000, 2000],
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename: opts.filename ?? 'upload.bin', filetype },
  uploadLengthDeferred: Boolean(opts.deferred),
  onBeforeRequest(req) {
    requests.push(req.getMethod())
  },
  onAfterResponse(req, res) {
    const s = res.getHeader('X-Upload-Sha256')
    if (s) sha256 = s
  },
  onSuccess() {
    out({ ok: true, url: upload.url, sha256 })
  },
  onError(err) {
    const res = err.originalResponse
    out({
      ok: false,
      url: upload.url,
      status: res ? res.getStatus() : null,
      body: res ? res.getBody() : String(err),
    })
  },
})
upload.start()
