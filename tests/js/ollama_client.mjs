// The official ollama JS client, unchanged, against the model server at argv[2]: every call a
// JS program makes, its answers printed as one JSON object on stdout (read by test_js_client.py).
import { Ollama } from 'ollama'

const ollama = new Ollama({ host: process.argv[2] })
const opts = { num_predict: 5, temperature: 0 }
const out = {}

out.version = await ollama.version()
out.list = await ollama.list()
out.show = await ollama.show({ model: 'tiny' })
out.generate = await ollama.generate({ model: 'tiny', prompt: 'the', options: opts })
out.generateStream = []
for await (const part of await ollama.generate({ model: 'tiny', prompt: 'the', stream: true, options: opts })) {
  out.generateStream.push(part)
}
out.chatStream = []
const messages = [{ role: 'user', content: 'hi' }]
for await (const part of await ollama.chat({ model: 'tiny', messages, stream: true, options: opts })) {
  out.chatStream.push(part)
}
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }]
const format = {
  type: 'object',
  properties: {
    name: { enum: ['get_weather'] },
    arguments: { type: 'object', properties: { city: { enum: ['Oslo'] } }, required: ['city'] },
  },
  required: ['name', 'arguments'],
}
out.toolChat = await ollama.chat({ model: 'tiny-tools', messages, tools, format, options: { num_predict: 60 } })
out.embed = await ollama.embed({ model: 'tiny', input: ['a', 'the'] })
out.ps = await ollama.ps()
try {
  await ollama.generate({ model: 'missing', prompt: 'x' })
} catch (err) {
  out.missing = { status: err.status_code, error: err.error }
}
console.log(JSON.stringify(out))
