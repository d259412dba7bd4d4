import { type Picture, toBytes } from './sample-store.js';
import { CLASSES, readableContext, readImage, scratchCanvas, SIZE } from './shapes.js';

const PAD = 140;

/** A canvas a person draws on with a mouse, pen or finger: white strokes on black. */
export function drawingPad(): { canvas: HTMLCanvasElement; clear: () => void } {
  const canvas = document.createElement('canvas');
  canvas.width = PAD;
  canvas.height = PAD;
  canvas.className = 'pad';
  const ctx = readableContext(canvas);
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, PAD, PAD);
  };
  clear();
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 11;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  let drawing = false;
  const at = (e: PointerEvent) => {
    const box = canvas.getBoundingClientRect();
    return [((e.clientX - box.left) * PAD) / box.width, ((e.clientY - box.top) * PAD) / box.height] as const;
  };
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    ctx.beginPath();
    ctx.moveTo(...at(e));
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    ctx.lineTo(...at(e));
    ctx.stroke();
  });
  const end = () => (drawing = false);
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  return { canvas, clear };
}

/** Reads a drawing (any canvas or image) as one picture of `label`. */
export function pictureOf(source: CanvasImageSource, label: number, scratch = scratchCanvas()): Picture {
  const pixels = new Float32Array(SIZE * SIZE);
  readImage(source, scratch, pixels, 0);
  return { bytes: toBytes(pixels), label };
}

/** A small canvas showing one picture. */
export function thumbnail(picture: Picture): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = SIZE;
  canvas.height = SIZE;
  canvas.className = 'thumb';
  const ctx = readableContext(canvas);
  const image = ctx.createImageData(SIZE, SIZE);
  picture.bytes.forEach((v, i) => image.data.set([v, v, v, 255], 4 * i));
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/**
 * One column per class: a drawing pad with "Add" and "Clear", a file input for pictures, the count and the latest
 * thumbnails. `onAdd` receives every new picture; `render` redraws counts and thumbnails from the current pictures.
 */
export function classPads(container: HTMLElement, onAdd: (pictures: Picture[]) => void): { render: (pictures: readonly Picture[]) => void } {
  const scratch = scratchCanvas();
  const columns = CLASSES.map((name, label) => {
    const column = document.createElement('div');
    column.className = 'class-column';
    const title = document.createElement('h3');
    const pad = drawingPad();
    const add = button('Add', () => {
      onAdd([pictureOf(pad.canvas, label, scratch)]);
      pad.clear();
    });
    const clear = button('Clear', pad.clear);
    const upload = document.createElement('input');
    upload.type = 'file';
    upload.accept = 'image/*';
    upload.multiple = true;
    upload.title = `Upload pictures of a ${name}`;
    upload.addEventListener('change', () => {
      const files = [...(upload.files ?? [])];
      void Promise.all(files.map((f) => createImageBitmap(f))).then((bitmaps) => {
        onAdd(bitmaps.map((b) => pictureOf(b, label, scratch)));
        bitmaps.forEach((b) => b.close());
        upload.value = '';
      });
    });
    const thumbs = document.createElement('div');
    thumbs.className = 'thumbs';
    const buttons = document.createElement('p');
    buttons.className = 'row';
    buttons.append(add, clear);
    column.append(title, pad.canvas, buttons, upload, thumbs);
    container.append(column);
    return { name, title, thumbs };
  });
  return {
    render: (pictures) => {
      columns.forEach(({ name, title, thumbs }, label) => {
        const own = pictures.filter((p) => p.label === label);
        title.textContent = `${name} (${own.length})`;
        thumbs.replaceChildren(...own.slice(-24).map(thumbnail));
      });
    },
  };
}

/** A button that calls `onClick`. */
export function button(text: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}
