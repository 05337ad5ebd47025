<?php

namespace Fastpush;

/**
 * The publish object and the broker's name rules (lib/event.c), shared by
 * the publishers.  Internal: not part of the package's API.
 *
 * @internal
 */
final class Event
{
    const RESERVED_TYPES = ['ready', 'reset', 'error', 'heartbeat',
                            'auth-expired', 'close', 'presence',
                            'member_added', 'member_removed'];

    /** The publish object: channel, optional event and key, data. */
    public static function make($channel, $data, array $options)
    {
        $event = ['channel' => $channel];
        if (isset($options['event']))
            $event['event'] = $options['event'];
        if (isset($options['key']))
            $event['key'] = $options['key'];
        $event['data'] = $data;
        return $event;
    }

    /** JSON as the broker reads it. @throws FastpushException invalid_event */
    public static function encode($value)
    {
        $json = json_encode($value, JSON_UNESCAPED_SLASHES
                            | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        if ($json === false)
            throw new FastpushException('invalid_event',
                'data cannot be encoded as JSON: ' . json_last_error_msg());
        return $json;
    }

    /** True when $name is a valid channel name. */
    public static function validChannel($name)
    {
        return is_string($name)
            && preg_match('/\A[A-Za-z0-9_.:@~=+-]{1,128}\z/', $name) === 1;
    }

    /** The broker's name rules, for paths nobody answers. */
    public static function check(array $event)
    {
        if (!self::validChannel($event['channel']))
            throw new FastpushException('invalid_event', 'invalid channel name: '
                . '1 to 128 characters of A-Z a-z 0-9 _ . : @ ~ = + -');
        if (isset($event['event']) && (!is_string($event['event'])
                || !preg_match('/\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}\z/', $event['event'])
                || in_array($event['event'], self::RESERVED_TYPES, true)))
            throw new FastpushException('invalid_event', 'invalid event type: 1 '
                . 'to 200 characters of A-Z a-z 0-9 _ . : -, not a reserved name');
        if (isset($event['key']) && (!is_string($event['key'])
                || strlen($event['key']) < 1 || strlen($event['key']) > 256
                || preg_match('/[\x00-\x1f\x7f"\\\\]/', $event['key'])
                || !preg_match('//u', $event['key'])))
            throw new FastpushException('invalid_event', 'invalid key: 1 to 256 '
                . 'bytes of UTF-8 without control characters, quote or backslash');
    }
}
