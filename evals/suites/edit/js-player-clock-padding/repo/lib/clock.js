'use strict';

/**
 * Format a number of seconds the way a media player shows it:
 * m:ss below an hour, h:mm:ss from an hour on.
 */
function formatClock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (hours > 0) {
    return `${hours}:${minutes}:${seconds}`;
  }
  return `${minutes}:${seconds}`;
}

/** "12:34 / 56:10" */
function progressLabel(position, duration) {
  return `${formatClock(position)} / ${formatClock(duration)}`;
}

/** Time left, shown with a minus sign: "-43:36" */
function remainingLabel(position, duration) {
  return `-${formatClock(duration - position)}`;
}

module.exports = { formatClock, progressLabel, remainingLabel };
