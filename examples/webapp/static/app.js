// The browser half of examples/webapp: microphone -> PCM16 24 kHz -> WebSocket -> service,
// and the service's JSON events -> speaker, transcript and tool list. No keys live here.
const RATE = 24000; // the realtime API's PCM16 rate, both directions
const $ = (id) => document.getElementById(id);

let socket = null;
let context = null;
let microphone = null;
let lastError = null; // the service's last error message, kept over a failing socket's close reason
let playhead = 0; // context time at which the next audio chunk starts
const playing = new Set(); // scheduled sources not yet ended or stopped
const counters = { "chunks-received": 0, "chunks-played": 0, "barge-ins": 0 };

$("start").onclick = start;
$("stop").onclick = () => socket && socket.close(1000, "stopped by the user");
$("interrupt").onclick = () => send({ type: "interrupt" });

function start() {
  $("start").disabled = true;
  setState("connecting", "Connecting…");
  context = new AudioContext(); // created in the click handler, so it may play sound
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/ws`);
  socket.onmessage = (message) => handle(JSON.parse(message.data));
  socket.onclose = (event) => {
    const failed = event.code !== 1000 && lastError !== null; // e.g. refused: a wrong key
    finish(failed ? lastError : event.reason || "Disconnected.", failed);
  };
}

async function startMicrophone() {
  microphone = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  await context.audioWorklet.addModule("/static/mic-worklet.js");
  const resampler = new AudioWorkletNode(context, "pcm16-resampler", {
    numberOfOutputs: 0, // a sink: pulled by the audio thread without reaching the speakers
    processorOptions: { targetRate: RATE },
  });
  resampler.port.onmessage = (message) => send(message.data); // an ArrayBuffer of PCM16
  context.createMediaStreamSource(microphone).connect(resampler);
  await context.resume();
  setState("listening", "Listening: speak now.");
  $("stop").disabled = $("interrupt").disabled = false;
}

function handle(message) {
  switch (message.type) {
    case "ready":
      lastError = null;
      startMicrophone().catch((error) => fail(`Microphone: ${error.message}`));
      break;
    case "audio":
      count("chunks-received");
      play(message.audio);
      break;
    case "transcript_delta":
      line("assistant", message.item_id).textContent += message.delta;
      break;
    case "transcript_done":
      line("assistant", message.item_id).textContent = message.text;
      break;
    case "user_transcript":
      line("you", message.item_id).textContent = message.text;
      break;
    case "speech_started": // the user talks over the assistant: barge-in
    case "interrupted":
      if (playing.size > 0) count("barge-ins");
      stopPlayback();
      break;
    case "tool_call":
      toolCall(message);
      break;
    case "tool_result":
      toolResult(message);
      break;
    case "reconnecting":
      setState("reconnecting", "Reconnecting to the voice service…");
      break;
    case "reconnected":
      setState("listening", "Listening: speak now.");
      break;
    case "error":
      lastError = message.message;
      fail(message.message);
      break;
    case "closed":
      finish(`The voice session ended: ${message.reason}`);
      break;
  }
}

function play(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const samples = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
  const buffer = context.createBuffer(1, samples.length, RATE); // resampled on playback
  const channel = buffer.getChannelData(0);
  for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 0x8000;
  const source = context.createBufferSource();
  source.buffer = buffer;
  source.connect(context.destination);
  source.onended = () => playing.delete(source) && count("chunks-played");
  playhead = Math.max(playhead, context.currentTime + 0.05); // back to back, or just ahead
  source.start(playhead);
  playhead += buffer.duration;
  playing.add(source);
}

function stopPlayback() {
  const sources = [...playing];
  playing.clear(); // first, so onended does not count them as played
  for (const source of sources) source.stop();
  playhead = 0;
}

function toolCall({ call_id, name, arguments: args }) {
  const item = document.createElement("li");
  item.dataset.callId = call_id;
  const result = Object.assign(document.createElement("output"), { textContent: "…" });
  item.append(`${name}(${args}) → `, result);
  $("tools").append(item);
}

function toolResult({ call_id, output, is_error }) {
  const result = document.querySelector(`#tools li[data-call-id="${CSS.escape(call_id)}"] output`);
  if (!result) return;
  result.textContent = output;
  result.classList.toggle("error", is_error);
  result.closest("li").dataset.done = "true";
}

function line(speaker, itemId) {
  const id = `item-${itemId}`;
  let element = document.getElementById(id);
  if (!element) {
    element = Object.assign(document.createElement("p"), { id, className: speaker });
    $("transcript").append(element);
  }
  return element;
}

function send(data) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(data instanceof ArrayBuffer ? data : JSON.stringify(data));
  }
}

function count(name) {
  $(name).textContent = ++counters[name];
}

function setState(state, text) {
  document.body.dataset.state = state;
  $("status").textContent = text;
  $("status").classList.remove("error");
}

function fail(text) {
  $("status").textContent = text;
  $("status").classList.add("error");
}

function finish(text, failed = false) {
  if (document.body.dataset.state === "closed") return;
  stopPlayback();
  if (microphone) microphone.getTracks().forEach((track) => track.stop());
  if (context) context.close();
  if (socket && socket.readyState <= WebSocket.OPEN) socket.close();
  setState("closed", text);
  if (failed) $("status").classList.add("error");
  $("start").disabled = false;
  $("stop").disabled = $("interrupt").disabled = true;
}
