// The tests' tus upstream: @tus/server with its FileStore (tests/tus.rs starts it).
// Usage: node server.mjs PORT DIRECTORY — prints "listening PORT" once it accepts.
import http from 'node:http'
import { Server } from '@tus/server'
import { FileStore } from '@tus/file-store'

const [port, directory] = process.argv.slice(2)
const tus = new Server({
  path: '/files',
  datastore: new FileStore({ directory }),
  respectForwardedHeaders: false,
})
const server = http.createServer((req, res) => tus.handle(req, res))
server.listen(Number(port), '127.0.0.1', () => console.log(`listening ${port}`))
