<?php

namespace Fastpush;

/**
 * A publish that failed.  getErrorCode() is the code of whoever refused it
 * (the broker, or fastpush-poll for HTTP publishes), or one of the
 * client's own: "timeout" (no answer in time: the event may still have
 * been published), "broker_unavailable" (could not send), "invalid_event"
 * (refused before sending), "bad_reply" (an answer that could not be
 * read).  getStatus() is the HTTP status of an HTTP publish's refusal
 * (403, 413, 503...), 0 for ZeroMQ and for failures without an answer.
 */
class FastpushException extends \RuntimeException
{
    private $errorCode;
    private $status;

    /**
     * @param string $errorCode the fastpush error code
     * @param string $message   one line, for people
     * @param int    $status    the HTTP status, 0 when there is none
     */
    public function __construct($errorCode, $message, $status = 0,
                                \Throwable $previous = null)
    {
        parent::__construct($errorCode . ': ' . $message, 0, $previous);
        $this->errorCode = (string) $errorCode;
        $this->status = (int) $status;
    }

    /** @return string the fastpush error code */
    public function getErrorCode()
    {
        return $this->errorCode;
    }

    /** @return int the HTTP status of the refusal, 0 when there is none */
    public function getStatus()
    {
        return $this->status;
    }
}
