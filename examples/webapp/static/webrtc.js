// WebRTC mode: the page's peer connection talks to the voice service directly. This page's
// server relays the SDP offer (POST /call) with its own key, so no key, not even a short-lived
// client secret, reaches the page; the server also runs the agent's tools on the call's
// sideband. The microphone goes out as an audio track, the assistant comes back as one, and
// the service's events arrive on the "oai-events" data channel.

const HEARD_LEVEL = 0.01; // RMS above which received audio counts as heard
const GATHERING_TIMEOUT_MS = 3000; // host candidates take milliseconds; never wait forever

export async function startCall(ui) {
  const connection = new RTCPeerConnection();
  const context = new AudioContext(); // created in the click handler, so it may play sound
  // The microphone is added once the call is up, so nothing said while it connects is lost.
  const transceiver = connection.addTransceiver("audio", { direction: "sendrecv" });
  const channel = connection.createDataChannel("oai-events");
  const call = { id: null, events: [], stop, interrupt };
  let microphone = null;
  let meter = null;
  let ended = false;
  let responding = false; // a response is being generated (its audio may play on after it)

  connection.ontrack = (event) => listen(event.streams[0] || new MediaStream([event.track]));
  connection.onconnectionstatechange = () => {
    if (["failed", "closed"].includes(connection.connectionState)) {
      end(`The call ended (${connection.connectionState}).`, connection.connectionState === "failed");
    }
  };
  channel.onmessage = (message) => {
    const event = JSON.parse(message.data);
    call.events.push(event);
    if (event.type === "response.created") responding = true;
    if (event.type === "response.done") responding = false;
    ui.event(event);
  };
  channel.onopen = () => startMicrophone().catch((error) => ui.fail(`Microphone: ${error.message}`));
  channel.onclose = () => end("The voice session ended.");

  await connection.setLocalDescription(await connection.createOffer());
  await gathered(connection);
  const response = await fetch("/call", {
    method: "POST",
    headers: { "Content-Type": "application/sdp" },
    body: connection.localDescription.sdp,
  });
  if (!response.ok) {
    const why = await response.text();
    end(why, true);
    throw new Error(why);
  }
  const answer = await response.json();
  call.id = answer.call_id;
  await connection.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  return call;

  async function startMicrophone() {
    microphone = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    await transceiver.sender.replaceTrack(microphone.getAudioTracks()[0]);
    await context.resume();
    ui.listening();
  }

  function listen(stream) {
    // Chromium plays a remote track only through a media element; the analyser measures it.
    const element = new Audio();
    element.srcObject = stream;
    element.play().catch(() => {});
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let last = performance.now();
    meter = setInterval(() => {
      const now = performance.now();
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);
      if (rms > HEARD_LEVEL) ui.heard(now - last);
      last = now;
    }, 50);
  }

  function interrupt() {
    // What the user has not heard yet is dropped, and a response still running stops.
    send({ type: "output_audio_buffer.clear" });
    if (responding) send({ type: "response.cancel" });
  }

  function send(event) {
    if (channel.readyState === "open") channel.send(JSON.stringify(event));
  }

  function stop() {
    if (call.id) {
      fetch(`/call/${encodeURIComponent(call.id)}/hangup`, { method: "POST", keepalive: true });
    }
    end("Call ended.");
  }

  function end(text, failed = false) {
    if (ended) return;
    ended = true;
    clearInterval(meter);
    if (microphone) microphone.getTracks().forEach((track) => track.stop());
    channel.close();
    connection.close();
    context.close();
    ui.ended(text, failed);
  }
}

function gathered(connection) {
  // The offer carries its candidates: the service gets no trickled ones on this route.
  if (connection.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (connection.iceGatheringState !== "complete") return;
      connection.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    connection.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHERING_TIMEOUT_MS);
  });
}
