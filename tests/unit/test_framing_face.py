"""The face as a framing cue: found at its size and place, and setting the box of a cut body."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tryon_app.core.bench import sample_person_photo
from tryon_app.core.face import find_face
from tryon_app.core.framing import _MIN_EYE_DARKNESS, _MIN_FACE_SCORE, Box, choose_framing

HAIR = (50, 35, 25)


def paint_face(
    photo: np.ndarray, eyes: tuple[float, float], distance: float, skin: tuple[int, int, int]
) -> np.ndarray:
    """Paint a head on `photo` (in place): a skin oval with eyes (white, a dark iris), brows and
    red lips, the eyes' midpoint at `eyes` (x, y) and `distance` pixels between them. The oval
    is `bench.sample_person_photo`'s head, the features a typical face's (brows 0.37 eye
    distances above the eyes, lips 1.1 below: not quite the layout `face` looks for)."""
    x, y = eyes

    def at(dx: float, dy: float) -> tuple[int, int]:
        return round(x + dx * distance), round(y + dy * distance)

    def axes(across: float, down: float) -> tuple[int, int]:
        return max(1, round(across * distance)), max(1, round(down * distance))

    cv2.ellipse(photo, at(0, -0.33), axes(1.8, 1.87), 0, 0, 360, skin, -1)
    for side in (-0.5, 0.5):
        cv2.ellipse(photo, at(side, 0), axes(0.21, 0.1), 0, 0, 360, (235, 235, 235), -1)
        cv2.circle(photo, at(side, 0), max(1, round(0.09 * distance)), (40, 30, 25), -1)
        cv2.ellipse(photo, at(side, -0.37), axes(0.23, 0.05), 0, 0, 360, HAIR, -1)
    cv2.ellipse(photo, at(0, 1.1), axes(0.27, 0.07), 0, 0, 360, (165, 60, 60), -1)
    return photo


def noisy(photo: np.ndarray, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 2.0, photo.shape)
    return np.clip(photo + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("skin", [(235, 200, 180), (95, 60, 45)])
@pytest.mark.parametrize("guess", [0.7, 1.0, 1.5])
def test_a_face_is_found_at_its_size_whatever_the_skin_and_the_guess(skin, guess):
    distance, eyes = 30.0, (200.0, 160.0)
    photo = np.full((400, 400, 3), (225, 225, 220), dtype=np.uint8)
    cv2.ellipse(photo, (200, 140), (58, 66), 0, 0, 360, HAIR, -1)  # hair around the crown
    photo = noisy(paint_face(photo, eyes, distance, skin))
    crown = (eyes[0], eyes[1] - 2.5 * distance)  # the hair's top

    face = find_face(photo, crown, guess * distance)

    assert face is not None
    assert face.score >= _MIN_FACE_SCORE and face.eye_darkness >= _MIN_EYE_DARKNESS, face
    assert face.eye_distance == pytest.approx(distance, rel=0.06), face
    assert abs(face.eye_x - eyes[0]) < 0.1 * distance and abs(face.eye_y - eyes[1]) < 0.1 * distance


@pytest.mark.parametrize("seed", range(4))
def test_a_featureless_head_is_not_a_face(seed):
    box = Box(300, 100, 600, 800)  # sample_person_photo's head: a plain oval
    photo = sample_person_photo(1600, 1200, box, seed=seed)
    unit = box.h / 256

    face = find_face(photo, (box.x + box.w / 2, box.y + 5 * unit), 15 * unit)

    weak = face is None or face.score < _MIN_FACE_SCORE or face.eye_darkness < _MIN_EYE_DARKNESS
    assert weak, face


@pytest.mark.parametrize(
    "photo_size, box",
    [
        ((900, 1600), Box(200, 80, 450, 600)),  # landscape, the body cut at the knees
        ((1200, 900), Box(50, 300, 540, 720)),  # portrait, cut at the hips
    ],
)
@pytest.mark.parametrize("hair", [(34, 45), (40, 55)])
def test_a_body_cut_by_the_bottom_edge_is_framed_by_its_face(photo_size, box, hair):
    """Long hair over the shoulders widens the silhouette's head and shoulders, which the body's
    profile takes for a larger person (IoU 0.53 to 0.65 without the face); the face, painted at
    the size and place VITON's framing gives a face (eyes 15 canvas rows apart on a line 38 rows
    below the top of the 256-row canvas), sets the box."""
    photo = sample_person_photo(*photo_size, box)
    unit = box.h / 256
    centre = box.x + box.w / 2
    skin = tuple(int(v) for v in photo[round(box.y + 33 * unit), round(centre)])
    half_width, half_height = hair
    behind = (round(centre), round(box.y + half_height * unit))
    cv2.ellipse(
        photo, behind, (round(half_width * unit), round(half_height * unit)), 0, 0, 360, HAIR, -1
    )
    paint_face(photo, (centre, box.y + 38 * unit), 15 * unit, skin)

    framing = choose_framing(noisy(photo), "auto")

    assert framing.how == "auto"
    assert framing.box.iou(box) >= 0.9, framing.box


def test_a_face_printed_on_the_chest_is_not_the_face():
    """A featureless head over a shirt printed with a face: the search stays on the head, so the
    box of the body cut by the photo's bottom edge stays the one its profile gives."""
    box = Box(500, 150, 360, 480)
    photo = sample_person_photo(700, 1000, box)
    unit = box.h / 256
    plain = choose_framing(photo, "auto").box
    paint_face(photo, (box.x + box.w / 2, box.y + 85 * unit), 12 * unit, (230, 220, 200))

    assert choose_framing(noisy(photo), "auto").box.iou(plain) > 0.97
