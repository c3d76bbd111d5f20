// The browser half of examples/webapp, in two modes chosen on the page (or with ?mode=webrtc):
// relay: microphone -> PCM16 24 kHz -> WebSocket -> this server -> service, and the server's
//        JSON events -> speaker, transcript and tool list;
// webrtc: a peer connection straight to the service (webrtc.js); the transcript and tool list
//        come from the call's events. No keys live here in either mode.
import { startCall } from "./webrtc.js";

const RATE = 24000; // the realtime API's PCM16 rate, both directions
const $ = (id) => document.getElementById(id);

let socket = null;
let context = null;
let microphone = null;
let lastError = null; // the service's last error message, kept over a failing socket's close reason
let playhead = 0; // context time at which the next audio chunk starts
const playing = new Set(); // scheduled sources not yet ended or stopped
const counters = { "chunks-received": 0, "chunks-played": 0, "barge-ins": 0 };
let call = null; // the WebRTC call, in WebRTC mode
let heardMs = 0;
let speaking = false; // WebRTC: the assistant's audio is playing

const requested = new URLSearchParams(location.search).get("mode");
if (requested === "webrtc" || requested === "relay") {
  document.querySelector(`input[name="mode"][value="${requested}"]`).checked = true;
}
// What the page received over the data channel, for the example's browser test.
window.agentkitDemo = { events: () => (call ? call.events : []) };

$("start").onclick = () => (mode() === "webrtc" ? startWebRtc() : start());
$("stop").onclick = () => {
  if (call) call.stop();
  else if (socket) socket.close(1000, "stopped by the user");
};
$("interrupt").onclick = () => (call ? call.interrupt() : send({ type: "interrupt" }));

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function startWebRtc() {
  begin();
  heardMs = 0;
  startCall({
    listening: () => {
      setState("listening", "Listening: speak now.");
      $("stop").disabled = $("interrupt").disabled = false;
    },
    event: handleCallEvent,
    heard: (ms) => {
      heardMs += ms;
      $("audio-heard-ms").textContent = Math.round(heardMs);
    },
    fail,
    ended: (text, failed) => {
      call = null;
      finish(text, failed);
    },
  })
    .then((started) => (call = started))
    .catch((error) => finish(error.message, true));
}

function handleCallEvent(event) {
  // The service's own events (GA names), as the data channel brings them.
  switch (event.type) {
    case "conversation.item.input_audio_transcription.completed":
      line("you", event.item_id).textContent = event.transcript;
      break;
    case "response.output_audio_transcript.delta":
      line("assistant", event.item_id).textContent += event.delta;
      break;
    case "response.output_audio_transcript.done":
      line("assistant", event.item_id).textContent = event.transcript;
      break;
    case "response.function_call_arguments.done":
      toolCall(event); // the tool runs on the server, over the sideband
      break;
    case "conversation.item.done":
      if (event.item.type === "function_call_output") {
        toolResult({ call_id: event.item.call_id, output: event.item.output, is_error: false });
      }
      break;
    case "output_audio_buffer.started":
      speaking = true;
      break;
    case "output_audio_buffer.stopped":
    case "output_audio_buffer.cleared":
      speaking = false;
      break;
    case "input_audio_buffer.speech_started": // the service cuts its own audio on barge-in
      if (speaking) count("barge-ins");
      break;
    case "error":
      fail(event.error.message);
      break;
  }
}

function begin() {
  $("start").disabled = true;
  for (const input of document.querySelectorAll('input[name="mode"]')) input.disabled = true;
  setState("connecting", "Connecting…");
}

function start() {
  begin();
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
  for (const input of document.querySelectorAll('input[name="mode"]')) input.disabled = false;
  $("stop").disabled = $("interrupt").disabled = true;
}
