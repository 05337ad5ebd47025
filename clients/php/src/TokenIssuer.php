<?php

namespace Fastpush;

/**
 * Channel tokens for fastpush-sse, fastpush-poll and fastpush-ws with
 * `auth on` and an HS256 `jwt-key` (docs/security.md): a JWT signed with
 * the same secret, carrying the user's rights in the `fastpush` claim.
 *
 *     $tokens = new Fastpush\TokenIssuer(['key_file' => '/etc/fastpush/jwt.key']);
 *     $jwt = $tokens->issue('42', ['user.42', 'news']);  // may subscribe to both
 *     // the page: new EventSource('/events/user.42,news?access_token=' + jwt)
 *     // or fastpush.js's `token` option (Authorization: Bearer)
 *
 * The claims: {"sub": SUB, "iat": NOW, "exp": NOW + ttl,
 * "fastpush": {"subscribe": [...], "publish": [...]}}; patterns are exact
 * names or prefixes ending in "*", "{sub}" stands for the token's sub.
 */
class TokenIssuer
{
    private $key;
    private $ttl;
    private $claim;

    /**
     * @param array $options 'key' (the secret, at least 32 bytes) or
     *     'key_file' (the file fastpush's jwt-key names; a trailing newline
     *     is ignored, as fastpush does), 'ttl' (seconds, 600), 'claim'
     *     (fastpush's jwt-claim, "fastpush")
     */
    public function __construct(array $options)
    {
        if (isset($options['key']) && $options['key'] !== '') {
            $key = (string) $options['key'];
        } elseif (isset($options['key_file']) && $options['key_file'] !== '') {
            $key = @file_get_contents($options['key_file']);
            if ($key === false)
                throw new \InvalidArgumentException(
                    "{$options['key_file']}: cannot read the jwt-key");
            if (substr($key, -1) === "\n")
                $key = substr($key, 0, -1);
            if (substr($key, -1) === "\r")
                $key = substr($key, 0, -1);
        } else {
            throw new \InvalidArgumentException(
                "a token issuer needs 'key' or 'key_file' (fastpush's jwt-key)");
        }
        if (strlen($key) < 32)
            throw new \InvalidArgumentException(
                'the jwt-key must be at least 32 bytes (fastpush refuses shorter ones)');
        $this->key = $key;
        $this->ttl = isset($options['ttl']) ? (int) $options['ttl'] : 600;
        $this->claim = isset($options['claim']) && $options['claim'] !== ''
                     ? (string) $options['claim'] : 'fastpush';
        if ($this->ttl <= 0)
            throw new \InvalidArgumentException("the token ttl must be positive");
    }

    /** @return int the lifetime of the tokens issued, in seconds */
    public function ttl()
    {
        return $this->ttl;
    }

    /**
     * A token for user $sub.
     *
     * @param string|int|null $sub  the user (the claim "sub"; "{sub}" in
     *                              patterns); null: no sub (a guest's token)
     * @param string[]   $subscribe channel patterns the user may read
     * @param string[]   $publish   channel patterns the user may publish to
     * @param array      $extra     more claims (e.g. "nbf")
     * @param mixed      $userInfo  what presence channels show of the user
     *                              (the claim's "user_info"); null: none
     * @return string the JWT
     */
    public function issue($sub, array $subscribe, array $publish = [], array $extra = [],
                          $userInfo = null)
    {
        $now = time();
        $rights = [];
        if ($subscribe)
            $rights['subscribe'] = array_values(array_map('strval', $subscribe));
        if ($publish)
            $rights['publish'] = array_values(array_map('strval', $publish));
        if ($userInfo !== null)
            $rights['user_info'] = $userInfo;
        $claims = $sub === null ? [] : ['sub' => (string) $sub];
        $claims += ['iat' => $now, 'exp' => $now + $this->ttl,
                    $this->claim => $rights ?: new \stdClass()];
        return self::sign($this->key, array_merge($claims, $extra));
    }

    /** An HS256 JWT of $claims signed with $key. */
    public static function sign($key, array $claims)
    {
        $part = function ($value) {
            return self::base64url(json_encode($value, JSON_UNESCAPED_SLASHES
                                               | JSON_UNESCAPED_UNICODE));
        };
        $input = $part(['alg' => 'HS256', 'typ' => 'JWT']) . '.' . $part($claims);
        return $input . '.' . self::base64url(hash_hmac('sha256', $input, $key, true));
    }

    private static function base64url($bytes)
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }
}
