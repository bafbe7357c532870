// The drawing page. Strokes go on a white canvas; shortly after the last change the canvas is
// sent as a PNG to /api/predict, so it takes the same path as an uploaded picture (and as a
// file given to `trainer predict`): cropped to the ink, scaled and centred like MNIST.
"use strict";

// Wait this long after the last stroke before asking: a prediction per pause, not per pixel.
const DEBOUNCE_MS = 150;
// Stroke width on the 280 px canvas; once the digit is scaled to MNIST's 20 px box it is
// about as thick as MNIST's pen.
const PEN_WIDTH = 20;

const canvas = document.getElementById("canvas");
const pen = canvas.getContext("2d");
const result = document.getElementById("result");
const message = document.getElementById("message");
const bars = document.getElementById("bars");
const preview = document.getElementById("preview");

let classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
let inked = false;      // anything drawn since the last clear
let stroke = null;      // { id, x, y }: the pointer drawing now and where it was
let timer = null;
let busy = false;       // a request is on its way; at most one at a time
let again = false;      // the drawing changed while it was
let generation = 0;     // bumped by "clear", so a late answer for an old drawing is dropped

function showBars(probabilities, predicted) {
  bars.replaceChildren(...classes.map((name, i) => {
    const p = probabilities ? probabilities[i] : 0;
    const item = document.createElement("li");
    item.className = i === predicted ? "top" : "";
    item.dataset.probability = String(p);
    const label = document.createElement("span");
    label.textContent = name;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = (100 * p).toFixed(1) + "%";
    track.append(fill);
    const percent = document.createElement("span");
    percent.className = "percent";
    percent.textContent = probabilities ? (100 * p).toFixed(1) + "%" : "";
    item.append(label, track, percent);
    return item;
  }));
}

function clearAll() {
  generation += 1;
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, canvas.width, canvas.height);
  inked = false;
  preview.hidden = true;
  result.textContent = "–";
  delete result.dataset.predicted;
  message.textContent = "";
  showBars(null, -1);
}

function show(answer) {
  result.textContent = answer.label;
  result.dataset.predicted = String(answer.predicted);
  message.textContent = "";
  showBars(answer.probabilities, answer.predicted);
}

async function predict(body, type) {
  const asked = generation;
  let answer = null;
  let status = 0;
  try {
    const response = await fetch("/api/predict", {
      method: "POST",
      headers: { "Content-Type": type },
      body,
    });
    status = response.status;
    answer = await response.json();
  } catch (error) {
    answer = { error: "the server did not answer (" + error.message + ")" };
  }
  if (asked !== generation) return;
  if (status === 200) {
    show(answer);
  } else {
    result.textContent = "–";
    delete result.dataset.predicted;
    message.textContent = answer.error || "the server refused the request";
    showBars(null, -1);
  }
}

function sendDrawing() {
  if (!inked) return;
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  canvas.toBlob(async (png) => {
    await predict(png, "image/png");
    busy = false;
    if (again) {
      again = false;
      sendDrawing();
    }
  }, "image/png");
}

function soon() {
  clearTimeout(timer);
  timer = setTimeout(sendDrawing, DEBOUNCE_MS);
}

// Canvas pixels under a pointer event (the canvas may be shown at another size).
function point(event) {
  const box = canvas.getBoundingClientRect();
  return {
    x: (event.clientX - box.left) * canvas.width / box.width,
    y: (event.clientY - box.top) * canvas.height / box.height,
  };
}

function lineTo(to) {
  pen.strokeStyle = "#000";
  pen.lineWidth = PEN_WIDTH;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(stroke.x, stroke.y);
  pen.lineTo(to.x, to.y);
  pen.stroke();
  stroke.x = to.x;
  stroke.y = to.y;
  inked = true;
}

canvas.addEventListener("pointerdown", (event) => {
  if (stroke) return;
  if (!preview.hidden) clearAll(); // a new drawing replaces a picked file's answer
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  stroke = { id: event.pointerId, ...point(event) };
  lineTo(point(event)); // a tap leaves a dot
  soon();
});

canvas.addEventListener("pointermove", (event) => {
  if (!stroke || event.pointerId !== stroke.id) return;
  // Pens and fast mice deliver several positions per event.
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const move of moves.length ? moves : [event]) lineTo(point(move));
  soon();
});

function endStroke(event) {
  if (!stroke || event.pointerId !== stroke.id) return;
  stroke = null;
  soon();
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

document.getElementById("clear").addEventListener("click", clearAll);

function predictFile(file) {
  if (!file) return;
  clearAll();
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  message.textContent = "asking about " + file.name + "…";
  predict(file, file.type || "application/octet-stream");
}

document.getElementById("file").addEventListener("change", (event) => {
  predictFile(event.target.files[0]);
  event.target.value = "";
});

canvas.addEventListener("dragover", (event) => {
  event.preventDefault();
  canvas.classList.add("dragging");
});
canvas.addEventListener("dragleave", () => canvas.classList.remove("dragging"));
canvas.addEventListener("drop", (event) => {
  event.preventDefault();
  canvas.classList.remove("dragging");
  predictFile(event.dataTransfer.files[0]);
});

async function describeModel() {
  const model = document.getElementById("model");
  try {
    const info = await (await fetch("/api/model")).json();
    classes = info.classes;
    const accuracy = info.test_accuracy == null
      ? "" : ", " + (100 * info.test_accuracy).toFixed(2) + "% test accuracy";
    model.textContent = info.network + " trained on " + info.dataset + " ("
      + info.parameters.toLocaleString("en") + " parameters" + accuracy + "), served by "
      + info.backend + ".";
    document.querySelector("h1").textContent =
      info.dataset === "fashion-mnist" ? "Draw a piece of clothing" : "Draw a digit";
  } catch (error) {
    model.textContent = "The model description did not load (" + error.message + ").";
  }
  if (!inked) showBars(null, -1);
}

clearAll();
describeModel();
